// The console: built by scripts/build.mjs into dist/ui, served by Salvo at /ui (src/http/routes/ui.ts).
// `npx vite --config ui/vite.config.ts` serves it for development, with /api proxied to a running Salvo.
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  root: new URL('.', import.meta.url).pathname,
  base: '/ui/',
  plugins: [preact()],
  logLevel: 'warn',
  build: {
    outDir: new URL('../dist/ui', import.meta.url).pathname,
    emptyOutDir: true,
    // One small app: no source maps in the bundle Salvo serves, and no size warnings to read.
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: { proxy: { '/api': process.env.SALVO_URL ?? 'http://127.0.0.1:8080' } },
});
