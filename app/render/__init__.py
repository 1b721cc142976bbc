"""Renderers that turn a finished report into a file with Qt's painting classes (QtGui), with no
window or widget: usable by the command line without importing the window's package (app.ui)."""
