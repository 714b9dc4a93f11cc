// @ts-check
// GitHub-flavoured Markdown → one standalone HTML page, offline, for previews and screenshots of
// the job summary and the PR comment. remark-gfm parses GFM (tables, strikethrough, task lists,
// autolinks, footnotes); raw HTML (<details>, <summary>, <sub>) is kept and then cleaned with
// hast-util-sanitize's default schema, which follows GitHub's sanitation (scripts, styles,
// event handlers and comments go). Mermaid blocks become a container that the page's script
// draws with the mermaid bundle beside the page; nothing is loaded from the network.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import rehypeRaw from 'rehype-raw';
import rehypeSanitize from 'rehype-sanitize';
import rehypeStringify from 'rehype-stringify';
import remarkGfm from 'remark-gfm';
import remarkParse from 'remark-parse';
import remarkRehype from 'remark-rehype';
import { unified } from 'unified';

const require = createRequire(import.meta.url);
/** The browser bundle (an IIFE that defines `globalThis.mermaid`). */
const MERMAID_BUNDLE = join(dirname(require.resolve('mermaid/package.json')), 'dist', 'mermaid.min.js');
export const MERMAID_VERSION = /** @type {{ version: string }} */ (require('mermaid/package.json')).version;
const GITHUB_CSS = readFileSync(require.resolve('github-markdown-css/github-markdown-light.css'), 'utf8');

/**
 * @typedef {{ type: string, tagName?: string, value?: string, properties?: Record<string, unknown>, children?: HNode[] }} HNode
 */

/**
 * @param {HNode} node
 * @returns {string}
 */
function textOf(node) {
  if (node.type === 'text') return node.value ?? '';
  return (node.children ?? []).map(textOf).join('');
}

/** @param {HNode} node */
function isMermaidPre(node) {
  if (node.type !== 'element' || node.tagName !== 'pre') return false;
  const code = (node.children ?? []).find((c) => c.type === 'element');
  const cls = code?.tagName === 'code' ? code.properties?.className : undefined;
  return Array.isArray(cls) && cls.includes('language-mermaid');
}

/**
 * Runs after the sanitizer (which keeps only `language-*` classes on code): each mermaid
 * block becomes a container with the diagram's text, for the page's script to draw.
 */
function rehypeMermaidContainers() {
  /** @param {HNode} node */
  const walk = (node) => {
    const children = node.children ?? [];
    for (let i = 0; i < children.length; i++) {
      const c = children[i];
      if (isMermaidPre(c)) {
        // remark keeps the fence's last newline out of the value; the text is the block's.
        children[i] = {
          type: 'element',
          tagName: 'div',
          properties: { className: ['mermaid-block'] },
          children: [
            {
              type: 'element',
              tagName: 'pre',
              properties: { className: ['mermaid-source'], lang: 'mermaid' },
              children: [{ type: 'text', value: textOf(c).replace(/\n$/, '') }],
            },
          ],
        };
      } else walk(c);
    }
  };
  return /** @param {HNode} tree */ (tree) => walk(tree);
}

const processor = unified()
  .use(remarkParse)
  .use(remarkGfm)
  .use(remarkRehype, { allowDangerousHtml: true })
  .use(rehypeRaw)
  .use(rehypeSanitize)
  .use(rehypeMermaidContainers)
  .use(rehypeStringify, { characterReferences: { useNamedReferences: true } });

/**
 * The Markdown as GitHub renders it, as an HTML fragment (the inside of `.markdown-body`).
 * @param {string} markdown
 * @returns {string}
 */
export function renderMarkdownFragment(markdown) {
  return String(processor.processSync(markdown));
}

/** @param {string} s */
function escapeHtml(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// Draws each block with mermaid.render (GitHub also hands the block's raw text to mermaid) and
// shows mermaid's message where a block fails, as GitHub shows "Unable to render rich display".
// <html data-mermaid> turns `done` or `failed` when every block is settled: screenshots wait for it.
const PAGE_SCRIPT = `
(async () => {
  const root = document.documentElement;
  const blocks = [...document.querySelectorAll('pre.mermaid-source')];
  let failed = 0;
  if (blocks.length > 0) {
    if (typeof mermaid === 'undefined') {
      failed = blocks.length;
      for (const pre of blocks) pre.insertAdjacentHTML('afterend', '<p class="mermaid-error">mermaid.min.js did not load</p>');
    } else {
      mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'default' });
      let i = 0;
      for (const pre of blocks) {
        try {
          const { svg } = await mermaid.render('mermaid-svg-' + i++, pre.textContent);
          const box = document.createElement('div');
          box.className = 'mermaid-svg';
          box.innerHTML = svg;
          pre.after(box);
          pre.hidden = true;
        } catch (e) {
          failed++;
          const err = document.createElement('pre');
          err.className = 'mermaid-error';
          err.textContent = 'Unable to render rich display\\n\\n' + (e && e.message ? e.message : String(e));
          pre.after(err);
        }
      }
    }
  }
  root.dataset.mermaidFailed = String(failed);
  root.dataset.mermaid = failed > 0 ? 'failed' : 'done';
})();
`;

const PAGE_CSS = `
body { margin: 0; background: #fff; }
.markdown-body { box-sizing: border-box; min-width: 200px; max-width: 980px; margin: 0 auto; padding: 32px; }
.markdown-body .mermaid-block { margin-bottom: 16px; border: 1px solid #d1d9e0; border-radius: 6px; padding: 8px; }
.markdown-body .mermaid-svg { text-align: center; }
.markdown-body pre.mermaid-error { color: #d1242f; background: #fff8f8; white-space: pre-wrap; }
`;

/**
 * A standalone HTML page: GitHub's Markdown CSS inlined, the Markdown rendered as GitHub does,
 * and a script that draws the mermaid blocks with the bundle at `mermaidSrc` (relative to the
 * page; writeMarkdownPage puts it there). Same input, same bytes.
 * @param {string} markdown
 * @param {{ title: string, mermaidSrc?: string }} options
 * @returns {string}
 */
export function renderMarkdownPage(markdown, { title, mermaidSrc = 'mermaid.min.js' }) {
  const body = renderMarkdownFragment(markdown);
  const hasMermaid = body.includes('class="mermaid-source"');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No network: only inline styles and scripts, and files beside the page.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' file: 'self'; style-src 'unsafe-inline'; img-src data: file: 'self'; font-src data:">`,
    `<title>${escapeHtml(title)}</title>`,
    `<style>\n${GITHUB_CSS}\n${PAGE_CSS}</style>`,
    '</head>',
    '<body>',
    `<article class="markdown-body">\n${body}\n</article>`,
    ...(hasMermaid ? [`<script src="${escapeHtml(mermaidSrc)}"></script>`] : []),
    `<script>${PAGE_SCRIPT}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/**
 * Writes the page to `htmlFile` and the mermaid bundle beside it, so the page opens offline.
 * @param {string} markdown
 * @param {string} htmlFile
 * @param {{ title: string }} options
 * @returns {string} htmlFile
 */
export function writeMarkdownPage(markdown, htmlFile, { title }) {
  mkdirSync(dirname(htmlFile), { recursive: true });
  writeFileSync(htmlFile, renderMarkdownPage(markdown, { title, mermaidSrc: 'mermaid.min.js' }));
  copyFileSync(MERMAID_BUNDLE, join(dirname(htmlFile), 'mermaid.min.js'));
  return htmlFile;
}
