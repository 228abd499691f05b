// One CodeMirror 6 editor per cell: Python highlighting, the usual editing
// keys, Tab indents, Shift-Enter runs the cell and Ctrl/Cmd-Enter runs it
// and stays.

import { basicSetup, EditorView } from "codemirror";
import { indentWithTab } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";
import { keymap } from "@codemirror/view";

const theme = EditorView.theme({
  "&": { fontSize: "14px", border: "1px solid #d0d7de", borderRadius: "6px", background: "#fbfcfd" },
  "&.cm-focused": { outline: "2px solid #8fb3dd" },
  ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" },
  ".cm-gutters": { background: "#f3f5f7", borderRight: "1px solid #e1e5e9", color: "#8b949e" },
  // Only the editor being typed in marks its cursor's line, not every cell at once.
  "&:not(.cm-focused) .cm-activeLine, &:not(.cm-focused) .cm-activeLineGutter": { background: "transparent" },
});

/** A Python editor in `parent` holding `doc`; onRun(advance) is called by the run keys. */
export function createEditor(parent, doc, onRun) {
  const runKeys = keymap.of([
    { key: "Shift-Enter", preventDefault: true, run: () => { onRun(true); return true; } },
    { key: "Mod-Enter", preventDefault: true, run: () => { onRun(false); return true; } },
  ]);
  return new EditorView({
    doc,
    parent,
    // The run keys first: Enter alone must still insert a newline.
    extensions: [runKeys, basicSetup, keymap.of([indentWithTab]), python(), theme],
  });
}
