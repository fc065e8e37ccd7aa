import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker, NotebookPanel, NotebookWidgetFactory } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { DataOpsClient } from './api';
import { executedPath, isExecuted, RunsDrive } from './drive';
import { newStepDialog } from './newstep';
import { PipelineView } from './pipelineview';
import { DataOpsSidebar } from './sidebar';
import { registerViews } from './views';

const PLUGIN_ID = 'dataops-nb-lab:plugin';

const ICON = new LabIcon({
  name: 'dataops-nb:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<circle cx="5" cy="5" r="3"/><circle cx="19" cy="5" r="3"/><circle cx="12" cy="19" r="3"/>' +
    '<path d="M6.5 7.5l4 9M17.5 7.5l-4 9" stroke="#616161" stroke-width="2" fill="none"/></g></svg>'
});

const COMMAND_NEW_STEP = 'dataops:new-step';
const EXECUTED_FACTORY = 'DataOps executed notebook';

/** The executed notebook's toolbar: what it is, in place of run and edit buttons. */
function executedNotice(panel: NotebookPanel): Widget {
  const [runId] = panel.context.localPath.split('/');
  const notice = new Widget();
  notice.addClass('jp-DataOps-executed-notice');
  notice.node.textContent = `Executed in run ${runId} · this notebook is read-only and has no kernel`;
  return notice;
}
const COMMAND_OPEN = 'dataops:open-sidebar';
const COMMAND_OPEN_PIPELINE = 'dataops:open-pipeline';

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
    const api = new DataOpsClient();
    app.serviceManager.contents.addDrive(new RunsDrive(api));
    // An executed notebook is a record of what ran: read-only, without a kernel (preferred as the
    // widget is made, before its context asks for one), with a toolbar that offers nothing to
    // run or edit. Its own factory keeps it out of the notebook tracker, whose followers (the
    // widgets manager among them) expect a kernel. Registered before any await: a restored
    // workspace reopens such tabs at start-up.
    const notebookFactory = docManager.registry.getWidgetFactory('Notebook') as NotebookWidgetFactory | undefined;
    const asExecuted = (widget: NotebookPanel) => {
      if (!isExecuted(widget.context.path)) {
        return;
      }
      widget.context.sessionContext.kernelPreference = { shouldStart: false, canStart: false };
      widget.addClass('jp-DataOps-executed');
      // a tab label that is not the file name would be taken for a rename (refused by the
      // read-only drive, an uncaught error each time): the label is ours to set
      widget.title.changed.disconnect((widget as any)._onTitleChanged, widget);
      const [runId] = widget.context.localPath.split('/');
      const label = `${PathExt.basename(widget.context.path)} (run ${runId})`;
      widget.title.label = label;
      widget.title.caption = `Executed notebook of run ${runId} (read-only)`;
      void widget.context.ready.then(() => {
        widget.context.model.readOnly = true;
        widget.title.label = label;
      });
    };
    if (notebookFactory) {
      const executedFactory = new NotebookWidgetFactory({
        name: EXECUTED_FACTORY,
        label: 'Executed notebook',
        fileTypes: ['notebook'],
        modelName: notebookFactory.modelName ?? 'notebook',
        preferKernel: false,
        canStartKernel: false,
        rendermime: notebookFactory.rendermime,
        contentFactory: notebookFactory.contentFactory,
        mimeTypeService: notebookFactory.mimeTypeService,
        editorConfig: notebookFactory.editorConfig,
        notebookConfig: notebookFactory.notebookConfig,
        toolbarFactory: (widget: NotebookPanel) => [{ name: 'dataops-executed', widget: executedNotice(widget) }]
      });
      executedFactory.widgetCreated.connect((_, widget) => asExecuted(widget));
      docManager.registry.addWidgetFactory(executedFactory);
    }
    notebookFactory?.widgetCreated.connect((_, widget) => asExecuted(widget as NotebookPanel));
    let refreshMs = 1000;
    let projectDir = '';
    if (registry) {
      const settings = await registry.load(PLUGIN_ID);
      const apply = () => {
        refreshMs = Math.max(200, Number(settings.get('refreshInterval').composite) || 1000);
        projectDir = String(settings.get('project').composite ?? '');
        api.project = projectDir;
      };
      apply();
      settings.changed.connect(apply);
    }
    // the server resolves the project (the root, or a parent of the configured directory)
    api
      .settings()
      .then(found => {
        projectDir = found.project ?? projectDir;
      })
      .catch(() => undefined);

    const openFile = (path: string) => docManager.openOrReveal(PathExt.join(projectDir, path));
    const openExecuted = (runId: string, step: string) =>
      docManager.openOrReveal(executedPath(runId, step), notebookFactory ? EXECUTED_FACTORY : undefined);
    // the dataset page and the run view in the main area
    const views = registerViews(app, shell, { api, notebooks, openExecuted });
    const sidebar = new DataOpsSidebar(
      { api, docManager, notebooks, projectDir: () => projectDir, openFile, openExecuted, ...views,
        openPipelineView: () => void app.commands.execute(COMMAND_OPEN_PIPELINE) },
      () => refreshMs,
      () => shell.activateById(sidebar.id)
    );
    sidebar.title.icon = ICON;
    shell.add(sidebar, 'left', { rank: 600 });

    app.commands.addCommand(COMMAND_OPEN, {
      label: 'Show the DataOps sidebar',
      execute: () => shell.activateById(sidebar.id)
    });
    let view: PipelineView | null = null;
    app.commands.addCommand(COMMAND_OPEN_PIPELINE, {
      label: args => (args['isLauncher'] ? 'Pipeline' : 'Open the pipeline view'),
      caption: 'The pipeline DAG with its datasets, the step cards and run options, in the main area',
      icon: ICON,
      execute: () => {
        if (!view || view.isDisposed) {
          view = new PipelineView({
            api, openFile, openExecuted,
            openDataset: views.openDataset,
            openRun: views.openRun,
            runStarted: runId => sidebar.follow(runId),
            refreshMs: () => refreshMs
          });
          view.title.icon = ICON;
          shell.add(view, 'main');
        }
        shell.activateById(view.id);
      }
    });
    app.commands.addCommand(COMMAND_NEW_STEP, {
      label: args => (args['isLauncher'] ? 'Pipeline step' : 'New pipeline step from a template'),
      caption: 'Create a step notebook from a template and add it to dataops.yaml',
      icon: ICON,
      execute: async () => {
        try {
          const notebook = await newStepDialog(api);
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
    palette?.addItem({ command: COMMAND_OPEN_PIPELINE, category: 'DataOps' });
    // its own category: the launcher draws a card of the Notebook category with a kernel's
    // logo (or the label's first letter), and our icon in any other
    launcher?.add({ command: COMMAND_NEW_STEP, category: 'DataOps', rank: 10, args: { isLauncher: true } });
    launcher?.add({ command: COMMAND_OPEN_PIPELINE, category: 'DataOps', rank: 5, args: { isLauncher: true } });
  }
};

export default plugin;
