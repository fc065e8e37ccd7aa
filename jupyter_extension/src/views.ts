/** The main-area views and their commands: `dataops:open-dataset` {name} and `dataops:open-run` {run}. */

import { ILabShell, JupyterFrontEnd } from '@jupyterlab/application';
import { Widget } from '@lumino/widgets';

import { DATASET_VIEW, DatasetView, IViewContext } from './datasetview';
import { RUN_VIEW, RunView } from './runview';

export const COMMAND_OPEN_DATASET = 'dataops:open-dataset';
export const COMMAND_OPEN_RUN = 'dataops:open-run';

type View = Widget & { load(): Promise<void> };

/** Add the views' commands; `context` is what the views use (opening each other through the commands). */
export function registerViews(app: JupyterFrontEnd, shell: ILabShell, context: Omit<IViewContext, 'openDataset' | 'openRun'>): Pick<IViewContext, 'openDataset' | 'openRun'> {
  const links = {
    openDataset: (name: string) => void app.commands.execute(COMMAND_OPEN_DATASET, { name }),
    openRun: (run: string) => void app.commands.execute(COMMAND_OPEN_RUN, { run })
  };
  const views: IViewContext = { ...context, ...links };
  // one tab per dataset or run: opening it again shows that tab, read again
  const show = async (id: string, make: () => View): Promise<View> => {
    let view = Array.from(shell.widgets('main')).find(w => w.id === id) as View | undefined;
    if (!view) {
      view = make();
      shell.add(view, 'main');
    }
    shell.activateById(view.id);
    await view.load();
    return view;
  };
  const command = (id: string, arg: string, what: string, caption: string, prefix: string, make: (key: string) => View) =>
    app.commands.addCommand(id, {
      label: args => (args[arg] ? `${what} ${args[arg]}` : `Open a ${what.toLowerCase()}`),
      caption,
      execute: args => {
        const key = String(args[arg] ?? '');
        return key ? show(prefix + key, () => make(key)) : undefined;
      }
    });
  command(COMMAND_OPEN_DATASET, 'name', 'Dataset', 'The dataset page: schema, profile, quality history, versions, lineage and a preview',
    DATASET_VIEW, name => new DatasetView(views, name));
  command(COMMAND_OPEN_RUN, 'run', 'Run', 'The run: its steps, parameters and environment, executed notebooks, and a diff with another run',
    RUN_VIEW, run => new RunView(views, run));
  return links;
}
