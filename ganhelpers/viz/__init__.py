"""Pictures: plots, the live dashboard, explorers, attention maps, films, sample grids and TensorBoard.
Imported on demand (matplotlib, ipywidgets); nothing here knows a model."""
