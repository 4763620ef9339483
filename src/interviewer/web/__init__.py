"""The browser app: the server, sign-in, the page's layout and its handlers."""
