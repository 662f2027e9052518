/**
 * The `salvo` command line: one table of commands and their flags, from which both the parser and the
 * help text are made, so a flag cannot be accepted without being listed (or listed without being
 * accepted). Pure: no I/O beyond reading the version from package.json.
 */
import { readFileSync } from 'node:fs';

interface FlagSpec {
  flag: string;
  /** The placeholder shown in help: `--port N`. */
  value: string;
  /** The environment setting the flag overrides (docs/configuration.md); none for a command's own argument. */
  setting?: string;
  help: string;
  required?: boolean;
  /** A switch: present or not, it takes no value (`--force`). */
  switch?: boolean;
}

export interface CommandSpec {
  /** One or two words: `serve`, `token create`. */
  name: string;
  summary: string;
  flags: FlagSpec[];
  /** The one word a command takes after its name (`salvo backup FILE`): its placeholder and meaning. */
  argument?: { value: string; help: string };
}

const PORT: FlagSpec = { flag: '--port', value: 'N', setting: 'PORT', help: 'HTTP port (default 8080; 0 picks a free one)' };
const HOST: FlagSpec = { flag: '--host', value: 'ADDRESS', setting: 'HOST', help: 'interface to listen on (default 127.0.0.1; 0.0.0.0 for every interface)' };
const DATA_DIR: FlagSpec = { flag: '--data-dir', value: 'DIR', setting: 'SALVO_DATA_DIR', help: 'directory of the embedded SQLite store (default ./data in a checkout, ~/.local/share/salvo installed)' };
const DATABASE_URL: FlagSpec = {
  flag: '--database-url',
  value: 'URL',
  setting: 'SALVO_DATABASE_URL',
  help: 'postgres://user:password@host:5432/db selects PostgreSQL instead of SQLite',
};
const LOG_LEVEL: FlagSpec = { flag: '--log-level', value: 'LEVEL', setting: 'SALVO_LOG_LEVEL', help: 'fatal, error, warn, info (default), debug, trace or silent' };
const NAME: FlagSpec = { flag: '--name', value: 'NAME', help: "the token's name: 1 to 64 letters, digits, '_', '.', '@' or '-'", required: true };
const ROLE: FlagSpec = {
  flag: '--role',
  value: 'ROLE',
  help: 'admin (everything), editor (all but tokens and provider secrets), viewer (read only) or trigger (launch methods only); the first token is admin unless told, later ones must say',
};
const STORE = [DATA_DIR, DATABASE_URL];
const FORCE: FlagSpec = { flag: '--force', value: '', help: 'replace FILE if it exists', switch: true };

const COMMANDS: CommandSpec[] = [
  { name: 'serve', summary: 'the API and the delivery workers in one process', flags: [PORT, HOST, ...STORE, LOG_LEVEL] },
  { name: 'worker', summary: 'delivery workers only (scale-out: point it at the servers\' store)', flags: [...STORE, LOG_LEVEL] },
  { name: 'migrate', summary: "bring the store's schema up to date and exit", flags: STORE },
  {
    name: 'backup',
    summary: 'copy the SQLite store to FILE while Salvo runs (PostgreSQL: prints the pg_dump command to use)',
    flags: [FORCE, ...STORE],
    argument: { value: 'FILE', help: 'where the copy is written' },
  },
  { name: 'token create', summary: 'print a new API token, once (Salvo keeps only its hash)', flags: [NAME, ROLE, ...STORE] },
  { name: 'token list', summary: 'list the tokens: name, role, creation and last use', flags: STORE },
  { name: 'token revoke', summary: 'delete the token with this name', flags: [NAME, ...STORE] },
];

export class UsageError extends Error {}

export type Parsed =
  | { kind: 'help'; commands: CommandSpec[] }
  | { kind: 'version' }
  | { kind: 'run'; command: CommandSpec; env: Record<string, string>; args: Record<string, string> };

const HELP = new Set(['--help', '-h']);
const VERSION = new Set(['--version', '-v']);

/** The commands a word (or two) names: one command, or a group such as every `token ...` command. */
function commandsNamed(words: string[]): CommandSpec[] {
  const full = words.join(' ');
  const exact = COMMANDS.filter((c) => c.name === full);
  if (exact.length) return exact;
  return words.length === 1 ? COMMANDS.filter((c) => c.name.startsWith(`${words[0]} `)) : [];
}

/**
 * Reads argv: the command's words, then its flags (`--flag value` or `--flag=value`). Settings flags
 * become environment overrides; `--name` is an argument. `--help` anywhere answers help for what
 * the words before it name.
 */
export function parseArgs(argv: string[]): Parsed {
  const words: string[] = [];
  let i = 0;
  for (; i < argv.length && !argv[i].startsWith('-'); i++) words.push(argv[i]);
  // A command that takes an argument (salvo backup FILE): the words after its name are that argument.
  const positional = COMMANDS.some((c) => c.argument && c.name === words[0]) ? words.splice(1) : [];
  if (words[0] === 'help') return { kind: 'help', commands: words.length > 1 ? known(words.slice(1)) : COMMANDS };
  const rest = argv.slice(i);
  if (rest.some((a) => HELP.has(a))) return { kind: 'help', commands: words.length ? known(words) : COMMANDS };
  if (words.length === 0 && rest.length && VERSION.has(rest[0])) return { kind: 'version' };
  if (words.length === 0) {
    if (rest.length) throw new UsageError(`a command comes first, before ${rest[0]}`);
    return { kind: 'help', commands: COMMANDS };
  }
  const named = known(words);
  if (named.length > 1 || named[0].name !== words.join(' ')) {
    throw new UsageError(`'salvo ${words.join(' ')}' needs one of: ${named.map((c) => c.name.split(' ').pop()).join(', ')}`);
  }
  const command = named[0];
  const env: Record<string, string> = {};
  const args: Record<string, string> = {};
  for (; i < argv.length; i++) {
    if (!argv[i].startsWith('-') && command.argument) {
      positional.push(argv[i]);
      continue;
    }
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    if (!flag.startsWith('-')) throw new UsageError(`unexpected '${flag}' after the flags of 'salvo ${command.name}'`);
    const spec = command.flags.find((f) => f.flag === flag);
    if (!spec) throw new UsageError(`unknown flag ${flag} for 'salvo ${command.name}' (see salvo ${command.name} --help)`);
    if (spec.switch) {
      if (inline !== undefined) throw new UsageError(`${flag} takes no value`);
      args[spec.flag.slice(2)] = 'yes';
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value (${flag} ${spec.value})`);
    if (spec.setting) env[spec.setting] = value;
    else args[spec.flag.slice(2)] = value;
  }
  for (const f of command.flags) {
    if (f.required && !(f.flag.slice(2) in args)) throw new UsageError(`'salvo ${command.name}' needs ${f.flag} ${f.value}`);
  }
  if (command.argument) {
    if (positional.length !== 1) throw new UsageError(`'salvo ${command.name}' needs one ${command.argument.value}: ${command.argument.help}`);
    args[command.argument.value.toLowerCase()] = positional[0];
  }
  return { kind: 'run', command, env, args };
}

function known(words: string[]): CommandSpec[] {
  const named = commandsNamed(words);
  if (named.length === 0) throw new UsageError(`unknown command '${words.join(' ')}'`);
  return named;
}

/** Help for the given commands: each with its summary and every flag it takes. */
export function usage(commands: CommandSpec[] = COMMANDS): string {
  const lines = ['usage:'];
  for (const c of commands) {
    const required = c.flags.filter((f) => f.required).map((f) => ` ${f.flag} ${f.value}`);
    const argument = c.argument ? ` ${c.argument.value}` : '';
    lines.push(`  salvo ${c.name}${argument}${required.join('')}${c.flags.some((f) => !f.required) ? ' [flags]' : ''}`, `      ${c.summary}`);
    if (c.argument) lines.push(`      ${c.argument.value.padEnd(22)} ${c.argument.help}`);
    for (const f of c.flags) {
      const left = `${f.flag} ${f.value}`.padEnd(22);
      lines.push(`      ${left} ${f.help}${f.setting ? ` [${f.setting}]` : ''}`);
    }
  }
  if (commands === COMMANDS) lines.push('  salvo --help | -h       this help (salvo <command> --help: one command)', '  salvo --version | -v    the version');
  lines.push('Settings come from the environment (docs/configuration.md); a flag overrides the setting in [brackets].');
  return lines.join('\n');
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return `salvo ${pkg.version}`;
}
