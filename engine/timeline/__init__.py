"""The timeline: model in integer frames (model), edit commands (commands) with undo (history),
OpenTimelineIO interchange (otio), media probing and reading (media) and the frame renderer
(render). Qt-free; nothing here imports torch."""
