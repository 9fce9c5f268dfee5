import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The playground: a static page, no framework, every byte bundled (no CDN), so the
 * built `dist/` works offline from any static server.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
  },
  server: { open: false },
});
