"""One script per page of the dashboard; ``dashboard/app.py`` lists them in ``st.navigation``."""
