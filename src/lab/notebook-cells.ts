import { MimeData } from '@lumino/coreutils';
import { Drag } from '@lumino/dragdrop';
import type { Widget } from '@lumino/widgets';

/** The little of a notebook panel this needs; typed here so the plugin does not pull in the notebook package. */
interface NotebookLike {
  content: {
    activeCellIndex: number;
    model: { sharedModel: { insertCell(index: number, cell: { cell_type: 'code'; source: string }): unknown } } | null;
  };
}

function isNotebook(widget: Widget | null): widget is Widget & NotebookLike {
  const content = (widget as unknown as NotebookLike | null)?.content;
  return !!content && typeof content.activeCellIndex === 'number' && !!content.model?.sharedModel;
}

/** Inserts a code cell below the active cell of the notebook and makes it active; false if the widget is no notebook. */
export function insertCodeCellBelow(widget: Widget | null, source: string): boolean {
  if (!isNotebook(widget)) return false;
  const notebook = widget.content;
  const index = notebook.activeCellIndex + 1;
  notebook.model!.sharedModel.insertCell(index, { cell_type: 'code', source });
  notebook.activeCellIndex = index;
  return true;
}

/** The mime type notebooks accept dropped cells in. */
const JUPYTER_CELL_MIME = 'application/vnd.jupyter.cells';

/** Starts dragging a code cell: a notebook takes it as a copied cell, dropped where the user lets go. */
export function dragCodeCell(source: string, dragImage: HTMLElement, clientX: number, clientY: number, dragSource: unknown): void {
  const mimeData = new MimeData();
  mimeData.setData(JUPYTER_CELL_MIME, [{ cell_type: 'code', source, metadata: {}, outputs: [], execution_count: null }]);
  mimeData.setData('text/plain', source);
  const drag = new Drag({ mimeData, dragImage, proposedAction: 'copy', supportedActions: 'copy', source: dragSource });
  void drag.start(clientX, clientY);
}
