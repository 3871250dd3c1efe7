"""The room dashboard (README: Dashboard): a page served by the bot's HTTP server, reached through a link
bound to one room (`tokens`), with its figures (`view`, `series`, `advice`), a chart drawn as
SVG by the server (`svg`), its routes (`routes`), and the chat side: links and the widget (`links`, `widget`)."""
