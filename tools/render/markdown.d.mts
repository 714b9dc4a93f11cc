// Types for markdown.mjs (the root tsconfig has no allowJs); keep in sync with its JSDoc.
export const MERMAID_BUNDLE: string;
export const MERMAID_VERSION: string;
export function renderMarkdownFragment(markdown: string): string;
export function renderMarkdownPage(markdown: string, options: { title: string; mermaidSrc?: string }): string;
export function writeMarkdownPage(markdown: string, htmlFile: string, options: { title: string }): string;
