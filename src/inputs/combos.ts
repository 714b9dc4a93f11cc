// The SLayer combo rules of docs/reference/combos.md#combo-rules and the API-key rules of docs/reference/combos.md#api-keys, kept as data.

export type Framework = 'claude_sdk' | 'pydantic_ai' | 'pydantic_ai_recursive' | 'pydantic_ai_otf_encode' | 'mcp_agent' | 'agno' | 'smolagents';
export type QueryMode = 'raw' | 'slayer';
export type EvalMode = 'a-interact' | 'c-interact' | 'oracle';
export type SlayerSetup = 'pre-encoded' | 'on-the-fly';
export type ArtifactKind = 'slayer_models' | 'slayer_otf_cache' | 'slayer_models_otf';

interface FrameworkRule {
  /** The artifact an on-the-fly run of this framework needs; null when on-the-fly is unsupported. */
  onTheFlyArtifact: ArtifactKind | null;
  /** True when the framework only makes sense on-the-fly (rule 1). */
  requiresOnTheFly: boolean;
}

/** Adding a framework is one line here. */
export const FRAMEWORKS: Readonly<Record<Framework, FrameworkRule>> = {
  claude_sdk: { onTheFlyArtifact: null, requiresOnTheFly: false },
  pydantic_ai: { onTheFlyArtifact: null, requiresOnTheFly: false },
  pydantic_ai_recursive: { onTheFlyArtifact: 'slayer_otf_cache', requiresOnTheFly: false },
  pydantic_ai_otf_encode: { onTheFlyArtifact: 'slayer_models_otf', requiresOnTheFly: true },
  mcp_agent: { onTheFlyArtifact: null, requiresOnTheFly: false },
  agno: { onTheFlyArtifact: null, requiresOnTheFly: false },
  smolagents: { onTheFlyArtifact: null, requiresOnTheFly: false },
};

export const QUERY_MODES: readonly QueryMode[] = ['raw', 'slayer'];
export const EVAL_MODES: readonly EvalMode[] = ['a-interact', 'c-interact', 'oracle'];

export function isFramework(name: string): name is Framework {
  return Object.hasOwn(FRAMEWORKS, name);
}

export interface Combo {
  framework: string;
  queryMode: string;
  mode: string;
  slayerSetup: string;
}

/** One rule: returns the exact rejection message, or null when the rule does not reject. */
type ComboRule = (c: Combo) => string | null | 'accept';

// Applied in order; the first rule that rejects or accepts decides (docs/reference/combos.md#combo-rules).
// Messages keep Python's wording, with the action's input names instead of CLI flags.
const COMBO_RULES: readonly ComboRule[] = [
  (c) =>
    isFramework(c.framework) && FRAMEWORKS[c.framework].requiresOnTheFly && c.slayerSetup !== 'on-the-fly'
      ? `framework ${c.framework} requires slayer-setup on-the-fly; got slayer-setup ${c.slayerSetup}`
      : null,
  (c) => (c.slayerSetup === 'pre-encoded' ? 'accept' : null),
  (c) => (c.slayerSetup !== 'on-the-fly' ? `slayer-setup must be 'pre-encoded' or 'on-the-fly'; got '${c.slayerSetup}'` : null),
  (c) =>
    !isFramework(c.framework) || FRAMEWORKS[c.framework].onTheFlyArtifact === null
      ? `slayer-setup on-the-fly is only supported with framework pydantic_ai_recursive or framework pydantic_ai_otf_encode; got framework ${c.framework}`
      : null,
  (c) => (c.queryMode !== 'slayer' ? `slayer-setup on-the-fly is only supported with query-mode slayer; got query-mode ${c.queryMode}` : null),
  (c) => (c.mode !== 'a-interact' ? `slayer-setup on-the-fly is only supported with mode a-interact; got mode ${c.mode}` : null),
];

/** The first rejection message of the combo rules, or null when the combo is accepted. */
export function comboRejection(combo: Combo): string | null {
  for (const rule of COMBO_RULES) {
    const r = rule(combo);
    if (r === 'accept') return null;
    if (r !== null) return r;
  }
  return null;
}

/** The artifact a (valid) combo uploads, or null for raw mode (docs/reference/combos.md#artifacts-and-presence-markers). */
export function artifactFor(framework: Framework, queryMode: QueryMode, slayerSetup: SlayerSetup): ArtifactKind | null {
  if (queryMode !== 'slayer') return null;
  if (slayerSetup === 'pre-encoded') return 'slayer_models';
  return FRAMEWORKS[framework].onTheFlyArtifact;
}

/** Which combo of the artifact table (1–3) an artifact kind is (docs/reference/combos.md#artifacts-and-presence-markers). */
export const COMBO_NUMBER: Readonly<Record<ArtifactKind, number>> = {
  slayer_models: 1,
  slayer_otf_cache: 2,
  slayer_models_otf: 3,
};

// Provider prefix → key (docs/reference/combos.md#api-keys, with the action's extra providers).
const PROVIDER_KEYS: ReadonlyArray<readonly [prefix: string, key: string]> = [
  ['anthropic/', 'ANTHROPIC_API_KEY'],
  ['cerebras/', 'CEREBRAS_API_KEY'],
  ['openai/', 'OPENAI_API_KEY'],
  ['gpt', 'OPENAI_API_KEY'],
  ['gemini/', 'GEMINI_API_KEY'],
  ['google/', 'GEMINI_API_KEY'],
  ['openrouter/', 'OPENROUTER_API_KEY'],
  ['fireworks_ai/', 'FIREWORKS_API_KEY'],
  ['deepinfra/', 'DEEPINFRA_API_KEY'],
];

/** Every key name the action knows; only these are ever read from the environment. */
export const KNOWN_KEYS: readonly string[] = [...new Set(PROVIDER_KEYS.map(([, k]) => k))].sort();

/** The key a model needs, or null when its provider needs none we know of. */
export function keyForModel(model: string): string | null {
  for (const [prefix, key] of PROVIDER_KEYS) if (model.startsWith(prefix)) return key;
  return null;
}

/** Each key a run needs → why, in words a user can act on (which input asks for it). */
export type KeyNeeds = ReadonlyMap<string, readonly string[]>;

/** The keys a run needs: one per model provider, plus OpenAI for slayer embeddings, with the reasons. */
export function keyNeeds(models: { agentModel: string; userSimModel: string }, queryMode: string): KeyNeeds {
  const needs = new Map<string, string[]>();
  const add = (key: string, why: string): void => {
    needs.set(key, [...(needs.get(key) ?? []), why]);
  };
  for (const [input, model] of [
    ['agent-model', models.agentModel],
    ['user-sim-model', models.userSimModel],
  ] as const) {
    const k = keyForModel(model);
    if (k) add(k, `${input} ${model}`);
  }
  if (queryMode === 'slayer') add('OPENAI_API_KEY', 'query-mode slayer: SLayer embeds with OpenAI, whatever the agent model');
  return new Map([...needs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The sorted key names a run needs. */
export function requiredKeys(models: { agentModel: string; userSimModel: string }, queryMode: string): string[] {
  return [...keyNeeds(models, queryMode).keys()];
}
