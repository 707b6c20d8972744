#!/usr/bin/env node
// The `baton` command. Plain JS and committed, so `npm ci` on a fresh clone links
// node_modules/.bin/baton: npm links a workspace's bin only when its target file exists, and
// dist/ exists only after the build. The CLI (../dist/cli/main.js) runs its `main` when imported.
import { existsSync } from 'node:fs'

const cli = new URL('../dist/cli/main.js', import.meta.url)
if (existsSync(cli)) {
  await import(cli.href)
} else {
  process.stderr.write('baton: not built yet; run `npm run build` in the repository first\n')
  process.exitCode = 1
}
