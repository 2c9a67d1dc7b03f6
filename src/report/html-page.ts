/**
 * The shell every certrotate HTML report shares: self-contained by construction (inline CSS only, and a
 * Content-Security-Policy that lets the page load nothing and run nothing), written 0644 because it holds no secret
 * and is meant to be shared.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { escapeXml } from './escape.js';

/** A self-contained page. `dataImages` allows `data:` images (the expiry chart), nothing else is ever loaded. */
export function selfContainedPage(title: string, css: string, body: string[], dataImages = false): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'${dataImages ? '; img-src data:' : ''}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeXml(title)}</title>`,
    `<style>${css}</style>`,
    '</head><body>',
    ...body,
    '</body></html>',
    '',
  ].join('\n');
}

/** Writes a report page to `path` (mode 0644). Returns the absolute path. */
export async function writePage(path: string, html: string): Promise<string> {
  const file = resolve(path);
  await writeFile(file, html, { mode: 0o644 });
  return file;
}
