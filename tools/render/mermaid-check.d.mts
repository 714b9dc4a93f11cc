// Types for mermaid-check.mjs (the root tsconfig has no allowJs); keep in sync with its JSDoc.
export type MermaidCheck = { ok: true } | { ok: false; error: string };
export interface MermaidBlock {
  /** The text inside the fence. */
  text: string;
  /** 1-based line of the opening fence. */
  line: number;
}
export function checkMermaid(text: string): Promise<MermaidCheck>;
export function extractMermaidBlocks(markdown: string): MermaidBlock[];
export function checkMarkdownMermaid(markdown: string): Promise<Array<MermaidBlock & { error: string }>>;
