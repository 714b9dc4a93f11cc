export const INSTALL_CMD: string;
export function startEmulator(o?: { buckets?: string[]; projectId?: string; startTimeoutMs?: number }): Promise<{ url: string; stop: () => Promise<void> }>;
