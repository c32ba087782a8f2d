import { defineConfig } from 'vite';

// The UI is served by sluice's admin port next to /api/, under the CSP that
// ui::Serve sends (src/ui/ui.cc): every script and style must be a file of its
// own, so nothing may be inlined into index.html.
export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    target: 'es2020',
    outDir: process.env.SLUICE_UI_OUT_DIR || 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  server: {
    // `npm run dev` against a sluice running on its default admin port.
    proxy: { '/api': process.env.SLUICE_ADMIN || 'http://127.0.0.1:8888' },
  },
});
