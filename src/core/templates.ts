/** Templates as the API writes them ({sid, fields} per channel), checked and parsed at save time. */
import { badRequest } from './errors.ts';
import { normalizeEmail } from './fields.ts';
import { TemplateSyntaxError, type Node } from './template/ast.ts';
import { parseTemplate } from './template/parse.ts';
import type { RenderContext } from './template/render.ts';
import { unknownFieldsOf, unresolvedInContext } from './template/warnings.ts';
import { CHANNELS, type Channel, type TemplateChannels } from './types.ts';

interface FieldRule {
  required?: boolean;
  kind: 'template' | 'email' | 'plain';
  /** Longest value in characters. */
  max: number;
}

const BODY = 1_000_000;

/** The fields each channel's template has; `template` fields are written in the template language. */
export const TEMPLATE_FIELDS: Record<Channel, Record<string, FieldRule>> = {
  email: {
    subject: { required: true, kind: 'template', max: 2000 },
    html: { kind: 'template', max: BODY },
    text: { kind: 'template', max: BODY },
    from_email: { kind: 'email', max: 254 },
    from_name: { kind: 'template', max: 255 },
    replyto_email: { kind: 'email', max: 254 },
    replyto_name: { kind: 'plain', max: 255 },
  },
  sms: { text: { required: true, kind: 'template', max: 10_000 } },
  push: {
    title: { required: true, kind: 'template', max: 1000 },
    body: { required: true, kind: 'template', max: 10_000 },
    url: { kind: 'template', max: 4096 },
    icon: { kind: 'plain', max: 4096 },
  },
};

export interface ChannelInput {
  sid: string;
  fields: Record<string, unknown>;
}

/**
 * Parsed templates, most recently used last. Bounded by the characters of their sources, not only by
 * count: a parsed template takes about 20 times its source in memory (a 1 MB template, ~22 MB), so
 * 500 large ones would fill the heap. 2 M characters keeps the worst case near 50 MB.
 */
const cache = new Map<string, Node[]>();
const CACHE_CHARS = 2_000_000;
let cachedChars = 0;

/** Parses (and remembers, for rendering) a template field; throws TemplateSyntaxError. */
export function compileTemplate(src: string): Node[] {
  let nodes = cache.get(src);
  if (nodes) {
    cache.delete(src);
    cache.set(src, nodes);
    return nodes;
  }
  nodes = parseTemplate(src);
  if (src.length <= CACHE_CHARS) {
    cache.set(src, nodes);
    cachedChars += src.length;
    for (const old of cache.keys()) {
      if (cachedChars <= CACHE_CHARS) break;
      cache.delete(old);
      cachedChars -= old.length;
    }
  }
  return nodes;
}

export function checkTemplateChannels(input: ChannelInput[], path = 'channels'): TemplateChannels {
  const out: Record<string, Record<string, string>> = {};
  input.forEach((ch, i) => {
    const at = `${path}[${i}]`;
    if (!(CHANNELS as readonly string[]).includes(ch.sid)) throw badRequest(`${at}.sid must be one of ${CHANNELS.join(', ')}`);
    if (out[ch.sid]) throw badRequest(`${at}.sid '${ch.sid}' is given twice`);
    const rules = TEMPLATE_FIELDS[ch.sid as Channel];
    const fields: Record<string, string> = {};
    for (const [name, value] of Object.entries(ch.fields)) {
      const rule = rules[name];
      if (!rule) throw badRequest(`${at}.fields.${name} is not a field of a ${ch.sid} template (${Object.keys(rules).join(', ')})`);
      if (typeof value !== 'string') throw badRequest(`${at}.fields.${name} must be a string`);
      if (value.length > rule.max) throw badRequest(`${at}.fields.${name} is longer than ${rule.max} characters`);
      if (rule.kind === 'email' && value !== '') normalizeEmail(value, `${at}.fields.${name}`);
      if (rule.kind === 'template') {
        try {
          parseTemplate(value); // checked, not cached: templates/add alone must not fill the render cache
        } catch (e) {
          if (e instanceof TemplateSyntaxError) throw badRequest(`template ${ch.sid}.${name}: ${e.message}`);
          throw e;
        }
      }
      fields[name] = value;
    }
    for (const [name, rule] of Object.entries(rules)) {
      if (rule.required && !fields[name]) throw badRequest(`${at}.fields.${name} is required for a ${ch.sid} template`);
    }
    if (ch.sid === 'email' && !fields.html && !fields.text) throw badRequest(`${at}.fields needs html or text for an email template`);
    out[ch.sid] = fields;
  });
  return out as TemplateChannels;
}

/** The API shape of a template's channels: [{sid, fields}]. */
export function templateChannelsView(channels: TemplateChannels): { sid: string; fields: Record<string, string> }[] {
  return CHANNELS.filter((c) => channels[c]).map((sid) => ({ sid, fields: { ...channels[sid] } as Record<string, string> }));
}

/** Each template field of `channels` (only `channel`'s, when given) as `email.subject` and its source, parsed. */
function parsedFields(channels: TemplateChannels, channel?: string): [string, Node[]][] {
  const out: [string, Node[]][] = [];
  for (const [sid, fields] of Object.entries(channels)) {
    if (channel !== undefined && sid !== channel) continue;
    for (const [name, src] of Object.entries(fields as Record<string, unknown>)) {
      if (typeof src === 'string' && TEMPLATE_FIELDS[sid as Channel]?.[name]?.kind === 'template' && src.includes('{')) out.push([`${sid}.${name}`, compileTemplate(src)]);
    }
  }
  return out;
}

/** templates/add|update's warnings: `{lead.X}` that no database has, `{subscription.X}` that is no subscription field. */
export const templateWarnings = (channels: TemplateChannels, leadFields: ReadonlySet<string>): string[] =>
  parsedFields(channels).flatMap(([label, nodes]) => unknownFieldsOf(nodes, leadFields, label));

/** A dry run's warnings: the variables of `channel`'s fields that resolve to nothing for this recipient and content. */
export const renderWarnings = (channels: TemplateChannels, channel: string, ctx: RenderContext, leadFields: ReadonlySet<string>): string[] =>
  parsedFields(channels, channel).flatMap(([label, nodes]) => unresolvedInContext(nodes, ctx, leadFields, label));
