// `npm run build` step after tsc: bundles the compiled CLI (dist/cli.js and everything it imports, the runtime
// dependencies included) into dist/bundle/ with esbuild, which bin/certrotate.js loads. A fast start (issue 10):
// resolving, reading and linking ~900 files of node_modules cost several times Node's own start-up; a few chunks
// cost a fraction of that. Code splitting keeps each command's modules (and the SDKs only it needs) in chunks of their
// own, loaded by the dynamic imports of src/cli.ts and the commands, so `scan` never loads the sandbox or XState.
//
// The tsc output in dist/ stays as it is: tests and benchmarks import its modules directly.
import { build } from 'esbuild';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;

/**
 * Every output file is in dist/bundle/ itself (no chunk subdirectory), so one relative path serves whichever chunk a
 * module lands in. The modules that read `import.meta.url` (package.json from src/cli.ts, bin/ from demo, a package's files through
 * createRequire) get the URL their file has in dist/, not the chunk's: relative paths and `require` resolve as they
 * do unbundled.
 */
const importMetaUrlAsInDist = {
  name: 'import-meta-url-as-in-dist',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, async (args) => {
      if (args.path.startsWith(outdir)) return undefined;
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const fromChunk = relative(outdir, args.path).split('\\').join('/');
      return {
        contents: source.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromChunk)}, import.meta.url).href`),
        resolveDir: dirname(args.path),
        loader: 'js',
      };
    });
  },
};

await rm(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { cli: 'dist/cli.js' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  // The oldest Node package.json's engines allows.
  target: 'node22.19',
  // Bundled CommonJS packages call require() for Node's built-ins: give every chunk a real one.
  banner: {
    js: "import { createRequire as __certrotateCreateRequire } from 'node:module'; const require = __certrotateCreateRequire(import.meta.url);",
  },
  // Positions in src/*.ts (through tsc's maps), used only when source maps are on: the launcher turns them on for
  // `--log-level debug|trace`, whose error output includes the stack.
  sourcemap: 'linked',
  // Positions only: the sources are in the repository, and would add megabytes to the package.
  sourcesContent: false,
  legalComments: 'eof',
  // Fewer bytes to read, hash and decode at each start; names stay, so stacks and `err.name` read as before.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  plugins: [importMetaUrlAsInDist],
  metafile: Boolean(process.env.BUNDLE_METAFILE),
});
// What went into which chunk, for finding what a command loads (e.g. `npx esbuild --analyze` reads it).
if (process.env.BUNDLE_METAFILE) await writeFile(process.env.BUNDLE_METAFILE, JSON.stringify(result.metafile));
