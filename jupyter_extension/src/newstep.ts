import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { IListing, IPipeline, post, requestAPI } from './api';
import { h } from './dom';

interface ITemplate {
  name: string;
  description: string;
}

interface IChoice {
  template: string;
  name: string;
  needs: string[];
}

class NewStepForm extends Widget {
  private template: HTMLSelectElement;
  private name = h('input', { class: 'jp-mod-styled', placeholder: 'step_name', 'data-testid': 'dataops-new-name' });
  private needs: HTMLSelectElement;

  constructor(templates: ITemplate[], steps: string[]) {
    super();
    this.addClass('jp-DataOps-form');
    this.template = h('select', { class: 'jp-mod-styled', 'data-testid': 'dataops-new-template' },
      ...templates.map(t => h('option', { value: t.name, title: t.description }, `${t.name} — ${t.description}`)));
    this.needs = h('select', { class: 'jp-mod-styled', multiple: 'multiple', size: String(Math.min(6, Math.max(2, steps.length))), 'data-testid': 'dataops-new-needs' },
      ...steps.map(s => h('option', { value: s }, s)));
    this.node.append(
      h('label', {}, 'Template', this.template),
      h('label', {}, 'Step name', this.name),
      h('label', {}, 'Needs', this.needs)
    );
  }

  getValue(): IChoice {
    return {
      template: this.template.value,
      name: this.name.value.trim(),
      needs: Array.from(this.needs.selectedOptions).map(o => o.value)
    };
  }
}

/** Ask for template, name and needs; create the step; returns the notebook path. */
export async function newStepDialog(): Promise<string | null> {
  const [templates, pipeline] = await Promise.all([
    requestAPI<IListing<ITemplate>>('templates'),
    requestAPI<IPipeline>('pipeline')
  ]);
  const result = await showDialog({
    title: 'New pipeline step',
    body: new NewStepForm(templates.items, pipeline.steps.map(s => s.name)),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Create' })]
  });
  if (!result.button.accept || !result.value) {
    return null;
  }
  const created = await post<{ notebook: string }>('steps', result.value);
  return created.notebook;
}
