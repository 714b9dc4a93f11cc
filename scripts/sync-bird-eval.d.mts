export const BIRD_EVAL: string;
export const PASS_THROUGH_OVERRIDES: Record<string, string>;
export const PREFLIGHT_OVERRIDES: Record<string, string>;
export function workflowType(actionDefault: string | undefined): 'boolean' | 'number' | 'string';
export function blocks(actionText: string): Record<'action-inputs' | 'action-outputs' | 'submit-outputs' | 'action-with' | 'preflight-with', string>;
export function renderBirdEval(workflowText: string, actionText: string): string;
