"""The Slack app manifest: exactly the scopes, command, events and interactivity we use."""

from __future__ import annotations

from typing import Any

import yaml

# Web API method → the bot scope it needs. The journey test checks every method the adapter
# calls is listed here, and the manifest asks for exactly these scopes.
METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.update": "chat:write",
    "views.open": None,
    "users.info": "users:read",
    "conversations.open": "im:write",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
}
EVENT_SCOPES = {
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    # deactivations and returns: departed members leave the leaderboards (users:read)
    "user_change": "users:read",
    "team_join": "users:read",
}


def bot_scopes() -> list[str]:
    scopes = {s for s in METHOD_SCOPES.values() if s} | set(EVENT_SCOPES.values()) | {"commands"}
    return sorted(scopes)


def manifest(
    base_url: str = "https://dojo.example.com", socket_mode: bool = False
) -> dict[str, Any]:
    events_url = f"{base_url.rstrip('/')}/slack/events"
    command: dict[str, Any] = {
        "command": "/mlsd",
        "description": "ML system design practice: daily questions, mocks, votes",
        "usage_hint": "help | mock [topic] [@interviewer] | vote #N | leaderboard",
        "should_escape": True,
    }
    events: dict[str, Any] = {"bot_events": sorted(EVENT_SCOPES)}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if not socket_mode:
        command["url"] = events_url
        events["request_url"] = events_url
        interactivity["request_url"] = events_url
    return {
        "display_information": {
            "name": "mlsd-dojo",
            "description": "Daily ML system design questions, timed mock interviews, peer scores.",
        },
        "features": {
            "bot_user": {"display_name": "dojo", "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": bot_scopes()}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(base_url: str, socket_mode: bool) -> str:
    return yaml.safe_dump(manifest(base_url, socket_mode), sort_keys=False)
