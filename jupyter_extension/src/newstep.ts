import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { DataOpsClient, INewStep, ITemplate } from './api';
import { h } from './dom';
import { nameProblem } from './format';

class NewStepForm extends Widget {
  private template: HTMLSelectElement;
  private name = h('input', { class: 'jp-mod-styled', placeholder: 'step_name', 'data-testid': 'dataops-new-name', autocomplete: 'off' });
  private problem = h('div', { class: 'jp-DataOps-fieldproblem', 'data-testid': 'dataops-new-problem', role: 'alert' });
  private filter = h('input', { class: 'jp-mod-styled', type: 'search', placeholder: 'Filter steps', 'data-testid': 'dataops-new-needs-filter' });
  private boxes: HTMLInputElement[];
  private parameters = h('div', { class: 'jp-DataOps-field', 'data-testid': 'dataops-new-parameters' });
  private values = new Map<string, string>();

  constructor(private templates: ITemplate[], private steps: string[], previous: INewStep | null, error: string) {
    super();
    this.addClass('jp-DataOps-form');
    this.template = h('select', { class: 'jp-mod-styled', 'data-testid': 'dataops-new-template' },
      ...templates.map(t => h('option', { value: t.name, title: t.description }, `${t.name} — ${t.description}`)));
    this.boxes = steps.map(s => h('input', { type: 'checkbox', value: s }));
    const needs = h('div', { class: 'jp-DataOps-needs', 'data-testid': 'dataops-new-needs', role: 'group', 'aria-label': 'Needs' },
      ...this.boxes.map(box => h('label', { class: 'jp-DataOps-need', 'data-step': box.value }, box, ` ${box.value}`)));
    if (previous) {
      Object.entries(previous.params ?? {}).forEach(([k, v]) => this.values.set(k, String(v)));
      if (previous.publishes) {
        this.values.set(this.publishing(previous.template) ?? '', previous.publishes);
      }
      this.template.value = previous.template;
      this.name.value = previous.name;
      this.boxes.forEach(box => (box.checked = (previous.needs ?? []).includes(box.value)));
    }
    this.name.addEventListener('input', () => this.validate());
    this.template.addEventListener('change', () => this.showParameters());
    this.filter.addEventListener('input', () => {
      const text = this.filter.value.toLowerCase();
      needs.querySelectorAll<HTMLElement>('.jp-DataOps-need').forEach(label => (label.hidden = !label.dataset.step!.toLowerCase().includes(text)));
    });
    this.node.append(
      h('label', {}, 'Template', this.template),
      h('label', {}, 'Step name', this.name, this.problem),
      h('div', { class: 'jp-DataOps-field' }, h('span', {}, 'Needs (the steps it runs after)'), steps.length > 8 ? this.filter : null, needs),
      this.parameters
    );
    this.showParameters();
    this.showProblem(error);
  }

  /** The template's parameter that names the dataset it publishes. */
  private publishing(template: string): string | null {
    return this.templates.find(t => t.name === template)?.parameters?.find(p => p.publishes)?.name ?? null;
  }

  /** The chosen template's parameters, each prefilled with its default (or what was typed). */
  private showParameters(): void {
    const parameters = this.templates.find(t => t.name === this.template.value)?.parameters ?? [];
    this.parameters.replaceChildren(
      ...(parameters.length ? [h('span', {}, 'Parameters')] : []),
      ...parameters.map(p => {
        const input = h('input', {
          class: 'jp-mod-styled', 'data-parameter': p.name,
          placeholder: p.publishes ? `${String(p.default ?? '').split('.')[0]}.<step name>` : String(p.default ?? '')
        });
        input.value = this.values.get(p.name) ?? (p.publishes ? '' : String(p.default ?? ''));
        input.addEventListener('input', () => this.values.set(p.name, input.value));
        return h('label', {}, p.publishes ? `${p.name} (the dataset it publishes)` : p.name, input);
      })
    );
  }

  private accept(): HTMLButtonElement | null {
    return this.node.closest('.jp-Dialog-content')?.querySelector<HTMLButtonElement>('.jp-Dialog-button.jp-mod-accept') ?? null;
  }

  protected onAfterAttach(): void {
    this.validate(Boolean(this.problem.textContent));
    this.name.focus();
  }

  /** Check the name as it is typed; Create stays disabled while it is not a valid new name. */
  validate(keepShown = false): string {
    const problem = nameProblem(this.name.value.trim(), this.steps);
    if (!keepShown || problem) {
      this.showProblem(this.name.value ? problem : '');
    }
    const accept = this.accept();
    if (accept) {
      accept.disabled = Boolean(problem);
    }
    return problem;
  }

  private showProblem(text: string): void {
    this.problem.textContent = text;
    this.name.setAttribute('aria-invalid', String(Boolean(text)));
  }

  getValue(): INewStep {
    const template = this.templates.find(t => t.name === this.template.value);
    const params: Record<string, string> = {};
    let publishes: string | null = null;
    for (const p of template?.parameters ?? []) {
      const value = (this.values.get(p.name) ?? '').trim();
      if (p.publishes) {
        publishes = value || null;
      } else if (this.values.has(p.name) && value !== String(p.default ?? '')) {
        params[p.name] = value;
      }
    }
    return {
      template: this.template.value,
      name: this.name.value.trim(),
      needs: this.boxes.filter(b => b.checked).map(b => b.value),
      params,
      publishes
    };
  }
}

/** Ask for template, name and needs; create the step; returns the notebook path. A refusal reopens the form as it was. */
export async function newStepDialog(api: DataOpsClient): Promise<string | null> {
  const [templates, pipeline] = await Promise.all([api.templates(), api.pipeline()]);
  const steps = pipeline.steps.map(s => s.name);
  let previous: INewStep | null = null;
  let error = '';
  for (;;) {
    const result: Dialog.IResult<INewStep> = await showDialog({
      title: 'New pipeline step',
      body: new NewStepForm(templates.items, steps, previous, error),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Create' })]
    });
    if (!result.button.accept || !result.value) {
      return null;
    }
    const choice: INewStep = result.value;
    previous = choice;
    error = nameProblem(choice.name, steps);
    if (error) {
      continue; // Enter pressed on a bad name: ask again, with what was typed
    }
    try {
      return (await api.newStep(choice)).notebook;
    } catch (refused) {
      error = refused instanceof Error ? refused.message : String(refused);
    }
  }
}
