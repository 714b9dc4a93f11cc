// Hand-written types for install.mjs (the root tsconfig has no allowJs); `npx tsc -p tools` checks the JS.
export declare function installFakeClis(binDir: string, o?: { node?: string }): { binDir: string; ray: string; gcloud: string };
