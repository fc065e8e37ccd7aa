import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';

import { ISettings, requestAPI, setProject } from './api';
import { executedPath, isExecuted, RunsDrive } from './drive';
import { newStepDialog } from './newstep';
import { DataOpsSidebar } from './sidebar';

const PLUGIN_ID = 'dataops-nb-lab:plugin';

const ICON = new LabIcon({
  name: 'dataops-nb:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<circle cx="5" cy="5" r="3"/><circle cx="19" cy="5" r="3"/><circle cx="12" cy="19" r="3"/>' +
    '<path d="M6.5 7.5l4 9M17.5 7.5l-4 9" stroke="#616161" stroke-width="2" fill="none"/></g></svg>'
});

const COMMAND_NEW_STEP = 'dataops:new-step';
const COMMAND_OPEN = 'dataops:open-sidebar';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'dataops-nb: pipeline, runs, catalog and quality review in the sidebar.',
  autoStart: true,
  requires: [ILabShell, IDocumentManager, INotebookTracker],
  optional: [ISettingRegistry, ICommandPalette, ILauncher],
  activate: async (
    app: JupyterFrontEnd,
    shell: ILabShell,
    docManager: IDocumentManager,
    notebooks: INotebookTracker,
    registry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    launcher: ILauncher | null
  ) => {
    app.serviceManager.contents.addDrive(new RunsDrive());
    // An executed notebook, opened from a panel or restored at start-up (so before any await),
    // is a record of what ran: read-only and without a kernel (preferred as the widget is made,
    // before its context asks for a kernel and the status bar shows it).
    docManager.registry.getWidgetFactory('Notebook')?.widgetCreated.connect((_, widget) => {
      if (!isExecuted(widget.context.path)) {
        return;
      }
      widget.context.sessionContext.kernelPreference = { shouldStart: false, canStart: false };
      widget.addClass('jp-DataOps-executed');
      void widget.context.ready.then(() => {
        widget.context.model.readOnly = true;
        widget.title.label = `${PathExt.basename(widget.context.path)} (executed)`;
      });
    });
    let refreshMs = 1000;
    let projectDir = '';
    if (registry) {
      const settings = await registry.load(PLUGIN_ID);
      const apply = () => {
        refreshMs = Math.max(200, Number(settings.get('refreshInterval').composite) || 1000);
        projectDir = String(settings.get('project').composite ?? '');
        setProject(projectDir);
      };
      apply();
      settings.changed.connect(apply);
    }
    // the server resolves the project (the root, or a parent of the configured directory)
    requestAPI<ISettings>('settings')
      .then(found => {
        projectDir = found.project ?? projectDir;
      })
      .catch(() => undefined);

    const openFile = (path: string) => docManager.openOrReveal(PathExt.join(projectDir, path));
    const openExecuted = (runId: string, step: string) => docManager.openOrReveal(executedPath(runId, step));
    const sidebar = new DataOpsSidebar(
      { docManager, notebooks, projectDir: () => projectDir, openFile, openExecuted },
      () => refreshMs
    );
    sidebar.title.icon = ICON;
    shell.add(sidebar, 'left', { rank: 600 });

    app.commands.addCommand(COMMAND_OPEN, {
      label: 'Show the DataOps sidebar',
      execute: () => shell.activateById(sidebar.id)
    });
    app.commands.addCommand(COMMAND_NEW_STEP, {
      label: args => (args['isLauncher'] ? 'Pipeline step' : 'New pipeline step from a template'),
      caption: 'Create a step notebook from a template and add it to dataops.yaml',
      icon: ICON,
      execute: async () => {
        try {
          const notebook = await newStepDialog();
          if (notebook) {
            await docManager.services.contents.get(notebook, { content: false });
            docManager.openOrReveal(notebook);
            await sidebar.pipeline.refresh();
          }
        } catch (error) {
          await showErrorMessage('New pipeline step', error as Error);
        }
      }
    });
    palette?.addItem({ command: COMMAND_NEW_STEP, category: 'DataOps' });
    palette?.addItem({ command: COMMAND_OPEN, category: 'DataOps' });
    launcher?.add({ command: COMMAND_NEW_STEP, category: 'Notebook', rank: 10, args: { isLauncher: true } });
  }
};

export default plugin;
