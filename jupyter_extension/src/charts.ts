/**
 * Small inline SVG charts: row counts and check outcomes per version, freshness against its
 * SLA, step durations over recent runs. No charting library: each chart is a few rects and a
 * line, coloured only by the theme's CSS variables (classes in style/base.css).
 */

const SVG = 'http://www.w3.org/2000/svg';

export function svg(tag: string, attrs: Record<string, string | number>, ...children: (SVGElement | string)[]): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    node.setAttribute(key, String(value));
  }
  for (const child of children) {
    node.append(child);
  }
  return node;
}

function titled(node: SVGElement, text: string): SVGElement {
  node.append(svg('title', {}, text));
  return node;
}

function frame(width: number, height: number, label: string, testid: string): SVGElement {
  return svg('svg', {
    class: 'jp-DataOps-chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label,
    'data-testid': testid
  });
}

/** The median of `values` (0 for none). */
export function median(values: number[]): number {
  if (!values.length) {
    return 0;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** How a duration compares with the median of the ones before it: slow when over twice the median
 * (and a second more), with at least three earlier runs to judge by. */
export function slowness(durations: number[], index: number): { median: number; slow: boolean } {
  const before = durations.slice(0, index);
  const typical = median(before);
  const value = durations[index];
  return { median: typical, slow: before.length >= 3 && value > 2 * typical && value - typical > 1 };
}

export interface IBar {
  value: number;
  label: string; // the tooltip
  tone?: string; // ok, warn, bad, info, muted
  marked?: boolean; // drawn as an outlier
}

/** Bars left to right (oldest first), scaled to the largest, with an optional reference line. */
export function bars(items: IBar[], opts: { label: string; testid: string; width?: number; height?: number; line?: number; lineLabel?: string }): SVGElement {
  const height = opts.height ?? 36;
  const step = Math.max(4, Math.min(14, Math.floor((opts.width ?? 220) / Math.max(1, items.length))));
  const width = Math.max(step * items.length, 40);
  const top = Math.max(opts.line ?? 0, ...items.map(i => i.value), 1e-9);
  const chart = frame(width, height, opts.label, opts.testid);
  items.forEach((item, index) => {
    const h = Math.max(1, (item.value / top) * (height - 2));
    const bar = svg('rect', {
      x: index * step + 1, y: height - h, width: step - 2, height: h,
      class: `jp-DataOps-bar jp-DataOps-tone-${item.tone ?? 'info'}${item.marked ? ' jp-DataOps-outlier' : ''}`,
      'data-value': item.value, 'data-marked': item.marked ? 'true' : 'false'
    });
    chart.append(titled(bar, item.label));
  });
  if (opts.line !== undefined && opts.line > 0) {
    const y = height - (opts.line / top) * (height - 2);
    chart.append(titled(svg('line', { x1: 0, x2: width, y1: y, y2: y, class: 'jp-DataOps-refline' }), opts.lineLabel ?? ''));
  }
  return chart;
}

/** One square per version (oldest first), filled by its worst check outcome. */
export function strip(items: { label: string; outcome: string }[], testid: string): SVGElement {
  const size = 10;
  const chart = frame(Math.max(items.length * (size + 2), 12), size + 2, 'Check outcomes per version', testid);
  const tones: Record<string, string> = { pass: 'ok', warn: 'warn', error: 'bad' };
  items.forEach((item, index) => {
    const cell = svg('rect', {
      x: index * (size + 2) + 1, y: 1, width: size, height: size, rx: 2,
      class: `jp-DataOps-bar jp-DataOps-tone-${tones[item.outcome] ?? 'muted'}`, 'data-outcome': item.outcome
    });
    chart.append(titled(cell, item.label));
  });
  return chart;
}

/** The newest data's age on a bar that ends past the SLA's error limit, with ticks at warn and error. */
export function gauge(age: number, warnAfter: number | null, errorAfter: number | null, status: string, testid: string): SVGElement {
  const width = 220;
  const height = 14;
  const end = Math.max(age, warnAfter ?? 0, errorAfter ?? 0) * 1.15 || 1;
  const tone = status === 'error' ? 'bad' : status === 'warn' ? 'warn' : 'ok';
  const chart = frame(width, height, 'Freshness against its SLA', testid);
  chart.append(svg('rect', { x: 0, y: 3, width, height: 8, rx: 3, class: 'jp-DataOps-track' }));
  chart.append(titled(svg('rect', { x: 0, y: 3, width: Math.max(2, (age / end) * width), height: 8, rx: 3,
    class: `jp-DataOps-bar jp-DataOps-tone-${tone}`, 'data-value': age }), `newest data ${hours(age)} old`));
  for (const [limit, name] of [[warnAfter, 'warn_after'], [errorAfter, 'error_after']] as [number | null, string][]) {
    if (limit !== null) {
      const x = (limit / end) * width;
      chart.append(titled(svg('line', { x1: x, x2: x, y1: 0, y2: height, class: 'jp-DataOps-refline', 'data-limit': name }),
        `${name} ${hours(limit)}`));
    }
  }
  return chart;
}

function hours(seconds: number): string {
  return seconds < 7200 ? `${Math.round(seconds / 60)} min` : seconds < 172800 ? `${(seconds / 3600).toFixed(1)} h` : `${(seconds / 86400).toFixed(1)} d`;
}

/** A step's durations over its recent runs (oldest first), the median as a line, a much slower run marked. */
export function durationChart(step: string, runs: { run_id: string; status: string; duration_s: number }[]): SVGElement {
  const values = runs.map(r => r.duration_s);
  const items = runs.map((run, index) => {
    const judged = slowness(values, index);
    const tone = run.status === 'success' ? (judged.slow ? 'warn' : 'info') : 'bad';
    const note = judged.slow ? ` — ${(run.duration_s / judged.median).toFixed(1)}× its median ${judged.median.toFixed(1)} s` : '';
    return { value: run.duration_s, tone, marked: judged.slow, label: `run ${run.run_id}: ${run.duration_s.toFixed(1)} s (${run.status})${note}` };
  });
  const typical = median(values);
  return bars(items, { label: `Durations of step ${step} over its last ${runs.length} runs`, testid: 'dataops-duration-chart',
    height: 22, width: 120, line: typical, lineLabel: `median ${typical.toFixed(1)} s` });
}
