/**
 * Docs that run: the command blocks of README.md (the quick start) and then of docs/api.md are run in
 * order, in one bash session, against a real `bin/salvo.js serve` with a fresh data directory.
 *
 * Conventions for those two files (docs/api.md repeats them in a comment at its top):
 * - A fenced block tagged `sh` (or `bash`, `shell`) holds commands, each pasteable as is. The blocks run
 *   in one shell, in order, README first: later blocks use the `$T` and `$API` the quick start sets,
 *   and the ids its fresh store gives (database, resource, template and campaign 1).
 * - What a command answers goes in a block of its own, tagged `json` (or untagged): never run.
 * - `<!-- norun -->` on the line before a block (blank lines between are allowed) keeps it from running:
 *   `npm install && npm start` (the test starts the server itself), `npm test`.
 * - `http://localhost:8080` is the server's address in the docs; the test replaces the port with its own.
 * - The commands run in the repository's root with SALVO_DATA_DIR set to the server's data directory, so
 *   `npm run salvo -- token create` writes to the store the server uses (npm's pre-scripts are skipped:
 *   the suite built dist/ before any test began).
 * Every curl answer must be HTTP 2xx and an envelope with `"error": 0`, else the test fails naming the
 * block (file:line) and the answer. Any command that fails stops the run there (bash -e).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin/salvo.js');
const DOCS = ['README.md', 'docs/api.md'];

interface Block {
  where: string;
  code: string;
}

/** The command blocks of a markdown file, in order, without those marked `<!-- norun -->`. */
function commandBlocks(file: string): Block[] {
  const lines = readFileSync(path.join(ROOT, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) body.push(lines[i].slice(open[1].length));
    if (!['sh', 'bash', 'shell'].includes(open[2])) continue;
    let before = start - 1;
    while (before >= 0 && lines[before].trim() === '') before--;
    if (before >= 0 && lines[before].trim() === '<!-- norun -->') continue;
    blocks.push({ where: `${file}:${start + 1}`, code: body.join('\n') });
  }
  return blocks;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * The script: curl wrapped so every answer is kept in the log with the block it came from and its HTTP
 * status, and a 4xx or 5xx stops the run; then each block, announced on stderr.
 */
function script(blocks: Block[], port: number, log: string): string {
  const wrapper = `
set -eo pipefail
curl() {
  local body status
  body=$(mktemp)
  status=$(command curl --no-progress-meter -o "$body" -w '%{http_code}' "$@")
  cat "$body"
  { printf '>>> %s\\n' "$DOCS_BLOCK"; cat "$body"; printf '\\n<<< %s\\n' "$status"; } >> ${JSON.stringify(log)}
  rm -f "$body"
  if [ "$status" -ge 400 ] || [ "$status" -lt 200 ]; then echo "docs: HTTP $status from curl $* (at $DOCS_BLOCK)" >&2; return 1; fi
}
`;
  const parts = blocks.map((b) => `DOCS_BLOCK=${JSON.stringify(b.where)}\necho "--- running $DOCS_BLOCK" >&2\n${b.code.replaceAll('localhost:8080', `localhost:${port}`)}\n`);
  return wrapper + parts.join('\n');
}

/** The log's answers: the block each came from, its HTTP status and its body. */
function answers(log: string): { where: string; status: number; body: string }[] {
  return [...log.matchAll(/^>>> (.*)\n([\s\S]*?)\n<<< (\d+)$/gm)].map((m) => ({ where: m[1], body: m[2], status: Number(m[3]) }));
}

describe('docs that run', () => {
  const tmp = tempDir();
  let server: ReturnType<typeof spawn>;
  let port: number;

  before(async () => {
    port = await freePort();
    server = spawn(process.execPath, [BIN, 'serve', '--port', String(port)], { env: { ...process.env, SALVO_DATA_DIR: path.join(tmp.dir, 'data'), SALVO_LOG_LEVEL: 'warn', SALVO_TOKEN: '' } });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      server.stdout!.on('data', (c) => {
        out += c;
        if (out.includes('Delivery:')) resolve();
      });
      server.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
  });
  after(() => {
    server.kill('SIGTERM');
    tmp.remove();
  });

  it('finds the quick start in README.md and the curl examples in docs/api.md', () => {
    const readme = commandBlocks('README.md');
    assert.ok(readme.some((b) => b.code.includes('token create')) && readme.some((b) => b.code.includes('campaigns/triggers/start')), 'the quick start');
    assert.ok(commandBlocks('docs/api.md').filter((b) => b.code.includes('curl')).length >= 5, 'the API examples');
  });

  it('runs every command block of README.md, then docs/api.md, in order: each answer is a success', async () => {
    const blocks = DOCS.flatMap(commandBlocks);
    const log = path.join(tmp.dir, 'answers.log');
    const run = await new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
      const bash = spawn('bash', ['-c', script(blocks, port, log)], {
        cwd: ROOT,
        env: { ...process.env, SALVO_DATA_DIR: path.join(tmp.dir, 'data'), SALVO_TOKEN: '', npm_config_ignore_scripts: 'true' },
      });
      let stdout = '';
      let stderr = '';
      bash.stdout.on('data', (c) => (stdout += c));
      bash.stderr.on('data', (c) => (stderr += c));
      bash.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    let recorded = '';
    try {
      recorded = readFileSync(log, 'utf8');
    } catch {
      // no curl ran: the failure below says why
    }
    assert.equal(run.code, 0, `a docs command failed:\n${run.stderr.slice(-3000)}\n${recorded.slice(-3000)}`);
    const all = answers(recorded);
    for (const a of all) {
      let envelope: { error?: unknown };
      // `curl -i` answers carry the status line and headers first: the envelope is after the blank line.
      const body = a.body.startsWith('HTTP/') ? a.body.slice(a.body.search(/\r?\n\r?\n/)).trim() : a.body;
      try {
        envelope = JSON.parse(body);
      } catch {
        assert.fail(`${a.where}: an answer that is not JSON: ${a.body.slice(0, 500)}`);
      }
      assert.equal(envelope.error, 0, `${a.where}: ${a.body.slice(0, 1000)}`);
    }
    // Every block ran, and each with a curl command got its answers.
    for (const b of blocks) {
      assert.ok(run.stderr.includes(`--- running ${b.where}\n`), `${b.where} ran`);
      if (/\bcurl\s/.test(b.code)) assert.ok(all.some((a) => a.where === b.where), `${b.where}: its curl commands were answered`);
    }
  });
});
