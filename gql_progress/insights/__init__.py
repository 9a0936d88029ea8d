"""The insights page: a course's completion funnel, hardest lessons, time to completion and the
platform's daily series as charts, for admins and instructors, from the analytics queries.

Served by the app itself (``page.py``) where GQL_PROGRESS_INSIGHTS_ENABLED allows it (by default in
development only). The charts are plain SVG drawn by one hand-written script (``static/insights.js``)
from /graphql: no package, no CDN, nothing the browser fetches from elsewhere.
"""
