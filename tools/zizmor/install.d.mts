export const ZIZMOR_DIR: string;
export const REQUIREMENTS: string;
export const VENV: string;
export const ZIZMOR_BIN: string;
export function pinnedVersion(text?: string): string;
export function zizmorInstalled(venv?: string): boolean;
export interface InstallResult {
  status: 'present' | 'installed' | 'skipped';
  message: string;
}
export function installZizmor(o?: { venv?: string; python?: string[]; env?: NodeJS.ProcessEnv; log?: (line: string) => void; quiet?: boolean }): InstallResult;
