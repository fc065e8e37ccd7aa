import { describe, expect, it } from 'vitest';

import { chooseEnvironment, environmentLabel, planSummary, shownText } from '../src/envformat';
import { IEnvironmentList, IPromotion } from '../src/models';

const LIST: IEnvironmentList = {
  default: 'prod',
  items: [
    { environment: 'dev', base: 'prod', default: false, declared: false, datasets: 1, updated_at: null, differs: 1 },
    { environment: 'prod', base: null, default: true, declared: false, datasets: 2, updated_at: null, differs: 0 },
    { environment: 'test', base: 'prod', default: false, declared: true, datasets: 0, updated_at: null, differs: 0 }
  ]
};

describe('the environment selector', () => {
  it('keeps the remembered environment while it exists, else shows the default', () => {
    expect(chooseEnvironment(LIST, 'dev')).toBe('dev');
    expect(chooseEnvironment(LIST, 'dropped-since')).toBe('prod');
    expect(chooseEnvironment(LIST, null)).toBe('prod');
  });

  it('marks the default and says what differs from the base', () => {
    expect(LIST.items.map(environmentLabel)).toEqual(['dev · 1 differ from prod', 'prod (default)', 'test']);
  });

  it('says which environment a panel shows and where the rest comes from', () => {
    expect(shownText('Pipeline', 'dev', 'prod')).toBe('Pipeline in dev · reads what it does not build from prod');
    expect(shownText('Runs', 'prod', null)).toBe('Runs in prod (the default environment)');
  });
});

describe('a promotion plan', () => {
  const plan = (moves: number): IPromotion => ({
    from: 'dev', to: 'prod', applied: false, may_promote: true, denied: null,
    moves: Array.from({ length: moves }, (_, i) => ({ dataset: `raw.t${i}`, from: null, to: `raw.t${i}@r1`, checks: {}, problem: null, forcible: false }))
  });

  it('says what promoting changes, or that nothing would', () => {
    expect(planSummary(plan(2))).toBe('Promoting dev to prod makes 2 versions current in prod: nothing is recomputed, no file is copied.');
    expect(planSummary(plan(1))).toContain('makes 1 version current');
    expect(planSummary(plan(0))).toBe('Nothing to promote: prod already has every version of dev.');
  });
});
