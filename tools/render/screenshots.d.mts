// Types for screenshots.mjs (the root tsconfig has no allowJs); keep in sync with its JSDoc.
export const INSTALL_CMD: string;
export const CHROMIUM_ARGS: string[];
export function defaultInputs(): string[];
export function parseArgs(argv: string[]): { files: string[]; out: string; width: number };
export function takeScreenshots(o: {
  files: string[];
  out: string;
  width: number;
  chromium?: string;
  log?: (line: string) => void;
}): Promise<{ png: string; failedBlocks: number }[]>;
