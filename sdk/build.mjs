// Builds siyu/sdk_assets/siyu.js (what /sdk/siyu.js serves) from sdk/web/siyu.js with esbuild
// (fetched from the npm registry by npx on first use), and copies the mini-program SDK beside it.
// The banner carries the source's SHA-256: tests/e2e/test_sdk_assets.py fails when the shipped
// file is older than its source. Run: `make sdk` (or `node sdk/build.mjs`).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ESBUILD = 'esbuild@0.28.2';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'sdk/web/siyu.js');
const out = join(root, 'siyu/sdk_assets/siyu.js');

const text = readFileSync(source, 'utf8');
const version = /var VERSION = '([^']+)'/.exec(text)[1];
const digest = createHash('sha256').update(text).digest('hex');
const minified = execFileSync(
  'npx',
  ['--yes', ESBUILD, source, '--minify', '--target=es2017', '--charset=utf8', '--legal-comments=none'],
  { encoding: 'utf8' },
);
const banner = `/*! siyu.js ${version} | source sdk/web/siyu.js sha256:${digest} */\n`;
writeFileSync(out, banner + minified);
copyFileSync(join(root, 'sdk/miniprogram/siyu-mp.js'), join(root, 'siyu/sdk_assets/siyu-mp.js'));
const built = readFileSync(out);
console.log(`siyu.js ${version}: ${built.length} bytes, ${gzipSync(built, { level: 9 }).length} bytes gzipped`);
