// Hand-written types for install.mjs (the root tsconfig has no allowJs); `npx tsc -p tools` checks the JS.
export declare const FAKE_GCS_VERSION: string;
export declare const FAKE_GCS_BIN: string;
export declare function haveGo(): boolean;
export declare function installedVersion(bin?: string): string | null;
export declare function installFakeGcs(o?: { quiet?: boolean }): { bin: string; version: string; built: boolean; seconds: number };
