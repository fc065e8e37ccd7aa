/** How the environment selector and a promotion read (pure functions: see environments.ts). */

import { IEnvironmentList, IEnvironmentSummary, IPromotion } from './models';

/** The environment the sidebar shows: the one chosen before if it still exists, else the default. */
export function chooseEnvironment(list: IEnvironmentList, remembered: string | null): string {
  return remembered && list.items.some(e => e.environment === remembered) ? remembered : list.default;
}

/** An environment as the selector lists it. */
export function environmentLabel(env: IEnvironmentSummary): string {
  if (env.default) {
    return `${env.environment} (default)`;
  }
  return env.differs ? `${env.environment} · ${env.differs} differ from ${env.base}` : env.environment;
}

/** What a panel says it shows: `Pipeline in test · reads the rest from prod`. */
export function shownText(panel: string, environment: string, base: string | null): string {
  return `${panel} in ${environment}${base ? ` · reads what it does not build from ${base}` : ' (the default environment)'}`;
}

/** A promotion's plan in words: what the confirmation asks. */
export function planSummary(plan: IPromotion): string {
  const n = plan.moves.length;
  if (!n) {
    return `Nothing to promote: ${plan.to} already has every version of ${plan.from}.`;
  }
  return `Promoting ${plan.from} to ${plan.to} makes ${n} version${n > 1 ? 's' : ''} current in ${plan.to}: nothing is recomputed, no file is copied.`;
}
