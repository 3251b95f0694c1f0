"""Placeholder until the dashboard lands (issue 4)."""

import streamlit as st

st.set_page_config(page_title="Facial emotion recognition", layout="wide")
st.title("Facial emotion recognition")
st.info("The dashboard is being built. Meanwhile: `python -m fer_core analyze VIDEO --out DIR`.")
