// @ts-check
// Checks Mermaid blocks with Mermaid's own parser, in Node, without a browser. The xychart
// grammar is still mermaid's jison parser (@mermaid-js/parser has no xychart), so this loads
// the `mermaid` package itself. mermaid.parse() needs a DOM only for DOMPurify, which mermaid
// creates from the global `window` when it is first imported: a happy-dom window is set
// before that import. Only the syntax is checked; drawing needs a browser (screenshots.mjs).

import remarkGfm from 'remark-gfm';
import remarkParse from 'remark-parse';
import { unified } from 'unified';

/** @typedef {{ ok: true } | { ok: false, error: string }} MermaidCheck */
/** @typedef {{ text: string, line: number }} MermaidBlock */

/** @type {Promise<import('mermaid').Mermaid> | undefined} */
let loading;

/** @returns {Promise<import('mermaid').Mermaid>} */
function loadMermaid() {
  loading ??= (async () => {
    if (typeof globalThis.window === 'undefined') {
      const { Window } = await import('happy-dom');
      // DOMPurify reads the global window once, when mermaid first imports it.
      Object.defineProperty(globalThis, 'window', { value: new Window(), configurable: true, writable: true });
    }
    const { default: mermaid } = await import('mermaid');
    mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });
    return mermaid;
  })();
  return loading;
}

/**
 * Parses one diagram (the text inside a mermaid fence), as GitHub's renderer would.
 * @param {string} text
 * @returns {Promise<MermaidCheck>}
 */
export async function checkMermaid(text) {
  const mermaid = await loadMermaid();
  try {
    await mermaid.parse(text);
    return { ok: true };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * @typedef {{ type: string, lang?: string | null, value?: string, position?: { start: { line: number } }, children?: MdNode[] }} MdNode
 */

/**
 * Every fenced block whose info string is `mermaid` (backtick or tilde fence), in order, with the line of
 * its opening fence (1-based). Found by the same CommonMark/GFM parser that renders the page,
 * so indented code and fences inside other code are not taken.
 * @param {string} markdown
 * @returns {MermaidBlock[]}
 */
export function extractMermaidBlocks(markdown) {
  const tree = /** @type {MdNode} */ (unified().use(remarkParse).use(remarkGfm).parse(markdown));
  /** @type {MermaidBlock[]} */
  const out = [];
  /** @param {MdNode} node */
  const walk = (node) => {
    if (node.type === 'code' && node.lang?.toLowerCase() === 'mermaid') {
      out.push({ text: node.value ?? '', line: node.position?.start.line ?? 0 });
    }
    for (const child of node.children ?? []) walk(child);
  };
  walk(tree);
  return out;
}

/**
 * Checks every mermaid block of a Markdown text; the failures, each with its line.
 * @param {string} markdown
 * @returns {Promise<Array<MermaidBlock & { error: string }>>}
 */
export async function checkMarkdownMermaid(markdown) {
  /** @type {Array<MermaidBlock & { error: string }>} */
  const failures = [];
  for (const block of extractMermaidBlocks(markdown)) {
    const r = await checkMermaid(block.text);
    if (!r.ok) failures.push({ ...block, error: r.error });
  }
  return failures;
}
