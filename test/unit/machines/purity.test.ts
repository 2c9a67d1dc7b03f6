import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = join(import.meta.dirname, '../../../src/machines');

/** Every module specifier a TypeScript file imports or re-exports (static and dynamic). */
function importsOf(source: string): string[] {
  const specifiers: string[] = [];
  const patterns = [
    /\bfrom\s+['"]([^'"]+)['"]/g,
    /\bimport\s+['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of source.matchAll(pattern)) specifiers.push(match[1]!);
  return specifiers;
}

describe('src/machines is pure', () => {
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));

  it('has the machine files', () => {
    expect(files).toEqual(expect.arrayContaining(['rotation.ts', 'plan.ts']));
  });

  it.each(files)('%s imports only xstate, local files and the ports types', (file) => {
    const source = readFileSync(join(dir, file), 'utf8');
    // Relative specifiers are resolved against the importing file, so a file in a subfolder (flows/) is held to the
    // same rule: it may reach other files of src/machines and the ports module, nothing else.
    const resolved = (specifier: string) => relative(dir, resolve(dirname(join(dir, file)), specifier));
    const portsPath = join('..', 'adapters', 'ports.js');
    for (const specifier of importsOf(source)) {
      const relativeJs = specifier.startsWith('.') && specifier.endsWith('.js');
      const local = relativeJs && !resolved(specifier).startsWith('..');
      const ports = relativeJs && resolved(specifier) === portsPath;
      expect(local || ports || specifier === 'xstate', `${file} imports ${specifier}`).toBe(true);
    }
    // The ports module is reached for its types only: no adapter code runs inside a machine.
    const portSpecifiers = importsOf(source).filter((s) => s.startsWith('.') && resolved(s) === portsPath);
    const portImports = [...source.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'((?:\.\.\/)+adapters\/ports\.js)'/gms)];
    expect(portImports.length).toBe(portSpecifiers.length > 0 ? 1 : 0);
    for (const match of portImports) expect(match[1], `${file} imports ports values`).toBe('type ');
    // Time and randomness come in through events and step results, never from the machine itself.
    expect(source, `${file} reads the clock`).not.toMatch(/Date\.now\(\)|new Date\(\)|Math\.random\(\)/);
  });
});
