"""The Streamlit dashboard (``streamlit run dashboard/app.py``). Every computation lives in :mod:`fer_core`."""
