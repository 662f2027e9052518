/**
 * The web console at /ui: the Vite build of ui/ (dist/ui, made by scripts/build.mjs), served as static
 * files. The console is a client of the public API only; nothing here knows about its pages. Unknown
 * paths under /ui answer index.html, so a reload on any client route works.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** dist/ui beside the bundle (dist/salvo.mjs), or from src/http/routes when the TypeScript runs (tests). */
function uiDir(): string {
  const bundled = import.meta.url.endsWith('.mjs');
  return fileURLToPath(new URL(bundled ? './ui/' : '../../../dist/ui/', import.meta.url));
}

/**
 * Scripts and styles come only from Salvo itself; a message's HTML is shown in a sandboxed iframe
 * (no scripts), whose images may come from anywhere, as a mail client's would. No other site may frame
 * the console (clickjacking).
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src * data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

export async function uiRoutes(app: FastifyInstance, root = uiDir()): Promise<void> {
  if (!existsSync(`${root}/index.html`)) {
    // A checkout that was never built (tests run the TypeScript): say so instead of a bare 404.
    const notBuilt = async (_req: unknown, reply: { code(n: number): { type(t: string): { send(s: string): unknown } } }) =>
      reply.code(503).type('text/plain; charset=utf-8').send(`The console is not built: run \`npm run build\` (it builds ui/ into ${root}).\n`);
    app.get('/ui', { schema: { hide: true } }, notBuilt);
    app.get('/ui/*', { schema: { hide: true } }, notBuilt);
    return;
  }
  await app.register(async (ui) => {
    await ui.register(fastifyStatic, {
      root,
      prefix: '/',
      index: ['index.html'],
      // Vite names assets by their content hash: they never change; index.html names the current ones.
      cacheControl: false,
      setHeaders(reply, path) {
        reply.header('Content-Security-Policy', CSP);
        reply.header('X-Content-Type-Options', 'nosniff');
        reply.header('Cache-Control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
    ui.setNotFoundHandler((req, reply) => {
      if (req.method !== 'GET' || req.url.startsWith('/ui/assets/')) return reply.code(404).type('text/plain').send('not found\n');
      return reply.header('Content-Security-Policy', CSP).header('Cache-Control', 'no-cache').sendFile('index.html');
    });
  }, { prefix: '/ui' });
}
