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
