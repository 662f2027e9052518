/**
 * MongoDB queries from requests (`custom_request`, a campaign's `content_filter`). Every query is
 * checked against an operator whitelist, a depth and a size bound before any library sees it; then
 * mingo evaluates it with exact MongoDB semantics, in a context that holds only the allowed operators
 * (so `$where`, `$expr`, `$function` cannot run even if the check were wrong).
 *
 * `$regex` is ours, not mingo's: mingo would build a JavaScript RegExp, which backtracks (a ReDoS
 * froze the process for 18 s on 31 characters). Checked queries are rewritten so every
 * `{$regex, $options}` becomes `{$userRegex: {...}}`, an operator matching on RE2 (./regex.ts).
 */
import { Context } from 'mingo/core';
import * as arrayOps from 'mingo/operators/query/array';
import * as comparisonOps from 'mingo/operators/query/comparison';
import * as elementOps from 'mingo/operators/query/element';
import * as logicalOps from 'mingo/operators/query/logical';
import { Query } from 'mingo/query';
import { flatten, resolve } from 'mingo/util';
import { badRequest } from './errors.ts';
import { compileUserRegex, REGEX_LIMITS, type UserRegex } from './regex.ts';

const ALLOWED_OPERATORS = [
  '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$regex', '$options',
  '$and', '$or', '$nor', '$not', '$all', '$size', '$elemMatch', '$type',
] as const;

const QUERY_LIMITS = { depth: 8, nodes: 20_000, regexLength: REGEX_LIMITS.patternLength, pathLength: 256 };

const TYPE_ALIASES = new Set([
  'double', 'string', 'object', 'array', 'binData', 'undefined', 'objectId', 'bool', 'date', 'null', 'regex',
  'javaScript', 'symbol', 'int', 'timestamp', 'long', 'decimal', 'minKey', 'maxKey', 'number',
]);

/** What a checked `{$regex, $options}` becomes before mingo sees it; `at` names it in errors. */
interface UserRegexArg {
  pattern: string;
  options: string;
  at: string;
}

/**
 * MongoDB's $regex on RE2: a string matches when the pattern is found in it; an array matches when
 * one of its strings (or of its nested arrays' strings) does; anything else never matches. Compiled
 * once per query; each document's match is bounded by REGEX_LIMITS.work.
 */
function $userRegex(selector: string, arg: UserRegexArg): (doc: unknown) => boolean {
  const re = compileUserRegex(arg.pattern, arg.options) as UserRegex; // checked already
  return (doc) => {
    const value = resolve(doc as Record<string, unknown>, selector, { unwrapArray: true } as never);
    const values = Array.isArray(value) ? value : [value];
    const strings = [...new Set([...values, ...flatten(values, 1)])].filter((v): v is string => typeof v === 'string');
    const work = strings.reduce((sum, s) => sum + re.cost(s), 0);
    if (work > REGEX_LIMITS.work) {
      const longest = Math.max(...strings.map((s) => s.length));
      throw badRequest(`${arg.at}: this pattern over a value of ${longest} characters exceeds the regex work limit (program size × characters > ${REGEX_LIMITS.work}); use a simpler pattern or a literal one`);
    }
    return strings.some((s) => re.test(s));
  };
}

const context = Context.init({
  query: { ...comparisonOps, ...logicalOps, ...elementOps, ...arrayOps, $userRegex } as never,
});

/** The checked query with each `{$regex, $options}` turned into `{$userRegex}` (see above). */
function withUserRegex(v: unknown, name: string, path: string): unknown {
  if (Array.isArray(v)) return v.map((x) => withUserRegex(x, name, path));
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === '$regex') out.$userRegex = { pattern: x as string, options: (v.$options as string | undefined) ?? '', at: `${name}.${path}.$regex` } satisfies UserRegexArg;
    else if (k !== '$options') out[k] = withUserRegex(x, name, k.startsWith('$') ? path : path ? `${path}.${k}` : k);
  }
  return out;
}

export type MongoQuery = Record<string, unknown>;
export type Predicate = (doc: Record<string, unknown>) => boolean;

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

class Checker {
  private nodes = 0;
  constructor(private readonly name: string) {}

  private fail(at: string, reason: string): never {
    throw badRequest(`${this.name}${at ? '.' + at : ''}: ${reason}`);
  }

  private count(at: string, depth: number): void {
    if (++this.nodes > QUERY_LIMITS.nodes) this.fail(at, `query is larger than ${QUERY_LIMITS.nodes} values`);
    if (depth > QUERY_LIMITS.depth) this.fail(at, `query is nested deeper than ${QUERY_LIMITS.depth} levels`);
  }

  private operator(op: string, at: string): void {
    if (!(ALLOWED_OPERATORS as readonly string[]).includes(op)) {
      this.fail(at, `operator '${op}' is not allowed (allowed: ${ALLOWED_OPERATORS.join(' ')})`);
    }
  }

  /** A query document: field conditions and $and/$or/$nor. */
  query(q: unknown, at: string, depth: number): void {
    this.count(at, depth);
    if (!isPlainObject(q)) this.fail(at, 'a query must be an object');
    for (const [key, value] of Object.entries(q)) {
      const here = at ? `${at}.${key}` : key;
      if (key.startsWith('$')) {
        if (key !== '$and' && key !== '$or' && key !== '$nor') {
          this.operator(key, here);
          this.fail(here, `operator '${key}' cannot stand at the top of a query; use it inside a field: {"field": {"${key}": ...}}`);
        }
        if (!Array.isArray(value) || value.length === 0) this.fail(here, `${key} takes a non-empty array of queries`);
        value.forEach((sub, i) => {
          this.query(sub, `${here}[${i}]`, depth + 1);
        });
      } else {
        if (key === '' || key.length > QUERY_LIMITS.pathLength || key.split('.').some((s) => s === '')) {
          this.fail(here, 'a field path is 1 to 256 characters of dot-separated names');
        }
        this.condition(value, here, depth + 1);
      }
    }
  }

  /** What a field is compared with: a literal, or an object of operators. */
  private condition(value: unknown, at: string, depth: number): void {
    if (isPlainObject(value) && Object.keys(value).some((k) => k.startsWith('$'))) {
      this.operators(value, at, depth);
    } else {
      this.literal(value, at, depth);
    }
  }

  private operators(ops: Record<string, unknown>, at: string, depth: number): void {
    this.count(at, depth);
    for (const [op, arg] of Object.entries(ops)) {
      const here = `${at}.${op}`;
      if (!op.startsWith('$')) this.fail(here, `'${op}' mixed with operators; a condition is either a value or only operators`);
      this.operator(op, here);
      switch (op) {
        case '$eq': case '$ne': case '$gt': case '$gte': case '$lt': case '$lte':
          this.literal(arg, here, depth + 1);
          break;
        case '$in': case '$nin': case '$all':
          if (!Array.isArray(arg)) this.fail(here, `${op} takes an array`);
          arg.forEach((v, i) => {
            if (isPlainObject(v) && '$elemMatch' in v && op === '$all') this.operators(v, `${here}[${i}]`, depth + 1);
            else this.literal(v, `${here}[${i}]`, depth + 1);
          });
          break;
        case '$exists':
          if (typeof arg !== 'boolean' && typeof arg !== 'number') this.fail(here, '$exists takes true or false');
          break;
        case '$size':
          if (!Number.isInteger(arg) || (arg as number) < 0) this.fail(here, '$size takes a whole number');
          break;
        case '$regex':
          this.regex(arg, ops.$options, here);
          break;
        case '$options':
          if (!('$regex' in ops)) this.fail(here, '$options goes with $regex');
          break;
        case '$not':
          if (!isPlainObject(arg) || !Object.keys(arg).every((k) => k.startsWith('$'))) this.fail(here, '$not takes an object of operators');
          this.operators(arg, here, depth + 1);
          break;
        case '$elemMatch':
          if (!isPlainObject(arg)) this.fail(here, '$elemMatch takes a query or an object of operators');
          if (Object.keys(arg).some((k) => k.startsWith('$') && k !== '$and' && k !== '$or' && k !== '$nor')) this.operators(arg, here, depth + 1);
          else this.query(arg, here, depth + 1);
          break;
        case '$type':
          for (const t of Array.isArray(arg) ? arg : [arg]) {
            if (!(typeof t === 'string' && TYPE_ALIASES.has(t)) && !(Number.isInteger(t) && (t as number) >= -1 && (t as number) <= 127)) {
              this.fail(here, `$type takes a BSON type alias or number, not ${JSON.stringify(t)}`);
            }
          }
          break;
        case '$and': case '$or': case '$nor':
          this.fail(here, `${op} belongs at the top of a query, not inside a field`);
      }
    }
  }

  private regex(pattern: unknown, options: unknown, at: string): void {
    if (typeof pattern !== 'string') this.fail(at, '$regex takes a string');
    if (options !== undefined && (typeof options !== 'string' || !/^[imsx]*$/.test(options))) this.fail(at, '$options takes letters of i, m, s, x');
    const compiled = compileUserRegex(pattern, options ?? '');
    if (typeof compiled === 'string') this.fail(at, compiled);
  }

  /** A value compared as is: no operators anywhere inside it. */
  private literal(v: unknown, at: string, depth: number): void {
    this.count(at, depth);
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        this.literal(x, `${at}[${i}]`, depth + 1);
      });
    }
    else if (isPlainObject(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (k.startsWith('$')) {
          this.operator(k, `${at}.${k}`);
          this.fail(`${at}.${k}`, `operator '${k}' cannot stand inside a value`);
        }
        this.literal(x, `${at}.${k}`, depth + 1);
      }
    }
  }
}

/** Throws a 400 naming the first problem; `name` is the request parameter ("custom_request"). */
export function checkQuery(q: unknown, name: string): asserts q is MongoQuery {
  new Checker(name).query(q, '', 0);
}

/** A checked query as a predicate over documents. */
export function compileQuery(q: MongoQuery, name: string): Predicate {
  checkQuery(q, name);
  let query: Query;
  try {
    query = new Query(withUserRegex(q, name, '') as MongoQuery, { context, scriptEnabled: false, useStrictMode: true });
  } catch (e) {
    throw badRequest(`${name}: ${(e as Error).message}`);
  }
  return (doc) => query.test(doc);
}
