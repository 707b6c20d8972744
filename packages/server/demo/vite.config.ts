import { defineConfig } from 'vite'

/**
 * The demo page's build (`npm run build:demo -w @baton/server`, run by `npm run build`). The client
 * library is left out of the bundle on purpose: `@baton/client` becomes the URL
 * `/client/index.js`, where baton serves the client package's own ES modules, so the page runs
 * the published code and shows that it loads in a browser with no bundler.
 */
export default defineConfig({
  base: '/',
  publicDir: false,
  build: {
    target: 'es2022',
    sourcemap: true,
    modulePreload: { polyfill: false },
    rolldownOptions: {
      external: ['@baton/client'],
      output: { paths: { '@baton/client': '/client/index.js' } },
    },
  },
})
