import { describe, expect, it } from 'vitest';
import { artifactFor, comboRejection, FRAMEWORKS, type Framework, keyForModel, keyNeeds, requiredKeys } from '../../src/inputs/combos.js';

describe('combo rules (docs/reference/combos.md#combo-rules)', () => {
  const ok = { framework: 'pydantic_ai', queryMode: 'raw', mode: 'c-interact', slayerSetup: 'pre-encoded' };

  it('accepts pre-encoded with any framework and mode, raw included', () => {
    for (const framework of Object.keys(FRAMEWORKS).filter((f) => f !== 'pydantic_ai_otf_encode')) {
      for (const mode of ['a-interact', 'c-interact', 'oracle']) {
        for (const queryMode of ['raw', 'slayer']) expect(comboRejection({ framework, queryMode, mode, slayerSetup: 'pre-encoded' })).toBeNull();
      }
    }
  });

  it('accepts the two on-the-fly combos', () => {
    for (const framework of ['pydantic_ai_recursive', 'pydantic_ai_otf_encode']) {
      expect(comboRejection({ framework, queryMode: 'slayer', mode: 'a-interact', slayerSetup: 'on-the-fly' })).toBeNull();
    }
  });

  it.each([
    [{ ...ok, framework: 'pydantic_ai_otf_encode' }, 'framework pydantic_ai_otf_encode requires slayer-setup on-the-fly; got slayer-setup pre-encoded'],
    [{ ...ok, slayerSetup: 'x' }, "slayer-setup must be 'pre-encoded' or 'on-the-fly'; got 'x'"],
    [
      { ...ok, slayerSetup: 'on-the-fly', framework: 'agno' },
      'slayer-setup on-the-fly is only supported with framework pydantic_ai_recursive or framework pydantic_ai_otf_encode; got framework agno',
    ],
    [
      { ...ok, slayerSetup: 'on-the-fly', framework: 'pydantic_ai_recursive' },
      'slayer-setup on-the-fly is only supported with query-mode slayer; got query-mode raw',
    ],
    [
      { ...ok, slayerSetup: 'on-the-fly', framework: 'pydantic_ai_recursive', queryMode: 'slayer' },
      'slayer-setup on-the-fly is only supported with mode a-interact; got mode c-interact',
    ],
  ])('rejects %o with the exact message', (combo, message) => {
    expect(comboRejection(combo)).toBe(message);
  });

  it('maps combos to artifacts', () => {
    expect(artifactFor('pydantic_ai', 'raw', 'pre-encoded')).toBeNull();
    expect(artifactFor('pydantic_ai', 'slayer', 'pre-encoded')).toBe('slayer_models');
    expect(artifactFor('pydantic_ai_recursive', 'slayer', 'on-the-fly')).toBe('slayer_otf_cache');
    expect(artifactFor('pydantic_ai_otf_encode' as Framework, 'slayer', 'on-the-fly')).toBe('slayer_models_otf');
  });
});

describe('API keys (docs/reference/combos.md#api-keys)', () => {
  it.each([
    ['anthropic/claude-sonnet-4-5', 'ANTHROPIC_API_KEY'],
    ['cerebras/llama3.1-8b', 'CEREBRAS_API_KEY'],
    ['openai/gpt-4o', 'OPENAI_API_KEY'],
    ['gpt-4o-mini', 'OPENAI_API_KEY'],
    ['gemini/gemini-2.5-pro', 'GEMINI_API_KEY'],
    ['google/gemini-2.5-pro', 'GEMINI_API_KEY'],
    ['openrouter/meta/llama', 'OPENROUTER_API_KEY'],
    ['fireworks_ai/qwen', 'FIREWORKS_API_KEY'],
    ['deepinfra/qwen', 'DEEPINFRA_API_KEY'],
    ['ollama/llama3', null],
  ])('%s needs %s', (model, key) => {
    expect(keyForModel(model)).toBe(key);
  });

  it('always needs OpenAI in slayer mode, sorted and de-duplicated', () => {
    expect(requiredKeys({ agentModel: 'anthropic/a', userSimModel: 'anthropic/b' }, 'slayer')).toEqual(['ANTHROPIC_API_KEY', 'OPENAI_API_KEY']);
    expect(requiredKeys({ agentModel: 'anthropic/a', userSimModel: 'anthropic/b' }, 'raw')).toEqual(['ANTHROPIC_API_KEY']);
    expect(requiredKeys({ agentModel: 'ollama/x', userSimModel: 'ollama/y' }, 'raw')).toEqual([]);
  });

  it('says which input needs each key; OpenAI in slayer mode because SLayer embeds with it', () => {
    expect([...keyNeeds({ agentModel: 'gpt-4o', userSimModel: 'anthropic/b' }, 'slayer')]).toEqual([
      ['ANTHROPIC_API_KEY', ['user-sim-model anthropic/b']],
      ['OPENAI_API_KEY', ['agent-model gpt-4o', 'query-mode slayer: SLayer embeds with OpenAI, whatever the agent model']],
    ]);
    expect([...keyNeeds({ agentModel: 'anthropic/a', userSimModel: 'ollama/y' }, 'raw')]).toEqual([['ANTHROPIC_API_KEY', ['agent-model anthropic/a']]]);
  });
});
