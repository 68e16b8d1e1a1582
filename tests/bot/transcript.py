"""Offline Telegram for tests: a BaseRequest that answers like the Bot API, and a fake user.

``TelegramChat`` reads like a transcript::

    await chat.send("/new")
    await chat.send("P-0001")
    await chat.press("Yes")
    assert "Q 3/" in chat.last_text
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

BOT_USER = {
    "id": 4242,
    "is_bot": True,
    "first_name": "Screenbot",
    "username": "screenbot_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

_update_ids = itertools.count(1000)


@dataclass
class Call:
    method: str
    params: dict[str, Any]


class OfflineRequest(BaseRequest):
    """Records every Bot API call and returns canned, well-formed results.

    ``record=False`` keeps nothing (the benchmark's many thousand replies must not show
    up as the bot's memory); message ids and results stay the same.
    """

    def __init__(self, *, record: bool = True) -> None:
        self.record = record
        self.calls: list[Call] = []
        self._message_ids = itertools.count(1)
        self.messages: dict[int, dict[str, Any]] = {}
        self.uploads: list[tuple[str, int, str, bytes]] = []  # method, chat, filename, data

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        scripted = self.scripted(endpoint)
        if scripted is not None:
            return scripted
        params = dict(request_data.parameters) if request_data is not None else {}
        if self.record:
            self.calls.append(Call(endpoint, params))
        if endpoint in ("sendDocument", "sendPhoto") and request_data is not None:
            result = self._upload(endpoint, params, request_data)
        else:
            result = self._result(endpoint, params)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def scripted(self, endpoint: str) -> tuple[int, bytes] | None:
        """A scripted answer (subclasses: failures) instead of the canned success."""
        return None

    def _message(self, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": int(params["chat_id"]), "type": "private"},
            "from": BOT_USER,
            **fields,
        }
        return message

    def _upload(
        self, endpoint: str, params: dict[str, Any], request_data: RequestData
    ) -> dict[str, Any]:
        message = self._message(params)
        if self.record:
            for content in request_data.multipart_data.values():
                name, data = content[0], content[1]
                raw = data if isinstance(data, bytes) else data.read()
                self.uploads.append((endpoint, int(params["chat_id"]), str(name), raw))
        return message

    def _result(self, endpoint: str, params: dict[str, Any]) -> Any:
        if endpoint == "getMe":
            return BOT_USER
        if endpoint == "sendMessage":
            message = self._message(params, text=params["text"])
            markup = params.get("reply_markup")
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            if self.record:
                self.messages[message["message_id"]] = message
            return message
        if endpoint == "editMessageText":
            message = dict(self.messages.get(int(params.get("message_id", 0)), {}))
            message.update(text=params["text"])
            message.pop("reply_markup", None)
            if message.get("message_id"):
                self.messages[message["message_id"]] = message
                return message
            return True
        if endpoint == "getUpdates":
            return []
        return True  # answerCallbackQuery, setMyCommands, deleteWebhook, …

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def texts_to(self, chat_id: int) -> list[str]:
        return [str(m["text"]) for m in self.messages_to(chat_id)]

    def messages_to(self, chat_id: int) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if m["chat"]["id"] == chat_id]


class TelegramChat:
    """One Telegram user in a private chat with the bot."""

    def __init__(
        self,
        app: Application,  # type: ignore[type-arg]
        request: OfflineRequest,
        user_id: int,
        language_code: str = "en",
        first_name: str = "Investigator",
    ) -> None:
        self.app = app
        self.request = request
        self.user_id = user_id
        self.user = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        self.last_update: dict[str, Any] | None = None
        self._message_ids = itertools.count(1)

    # -- acting -------------------------------------------------------------------------

    async def send(
        self, text: str, *, reply_to_last: bool = False, reply_to: dict[str, Any] | None = None
    ) -> None:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": self.user_id, "type": "private"},
            "from": self.user,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(" ", 1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if reply_to_last:
            message["reply_to_message"] = self.sent[-1]
        if reply_to is not None:  # a Telegram reply to one of the bot's messages
            message["reply_to_message"] = reply_to
        await self._process({"update_id": next(_update_ids), "message": message})

    async def press(self, label: str) -> None:
        """Press the button with this label on the latest message that has buttons."""
        message = self._keyboard_message()
        for row in message["reply_markup"]["inline_keyboard"]:
            for button in row:
                if button["text"] == label:
                    await self.press_data(button["callback_data"], message)
                    return
        raise AssertionError(f"no button {label!r}; buttons are {self.buttons}")

    async def press_value(self, question_id: str, value: str) -> None:
        """Press the answer button naming ``value`` for ``question_id``."""
        message = self._keyboard_message()
        for row in message["reply_markup"]["inline_keyboard"]:
            for button in row:
                parts = button["callback_data"].split("|", 3)
                if parts[0] == "a" and parts[2] == question_id and parts[3] == value:
                    await self.press_data(button["callback_data"], message)
                    return
        raise AssertionError(f"no button for {question_id}={value}; buttons are {self.buttons}")

    async def press_data(self, data: str, message: dict[str, Any] | None = None) -> None:
        message = message or self._keyboard_message()
        query = {
            "id": str(next(_update_ids)),
            "from": self.user,
            "chat_instance": f"ci{self.user_id}",
            "data": data,
            "message": message,
        }
        await self._process({"update_id": next(_update_ids), "callback_query": query})

    async def replay(self) -> None:
        """Deliver the last update again (same update id), as Telegram does after a crash."""
        assert self.last_update is not None
        await self._process(self.last_update)

    async def _process(self, data: dict[str, Any]) -> None:
        self.last_update = data
        await self.app.process_update(Update.de_json(data, self.app.bot))

    # -- reading ---------------------------------------------------------------------------

    @property
    def sent(self) -> list[dict[str, Any]]:
        """Messages the bot sent to this chat, in order (as the Bot API returned them)."""
        return [m for m in self.request.messages.values() if m["chat"]["id"] == self.user_id]

    @property
    def texts(self) -> list[str]:
        return [str(m["text"]) for m in self.sent]

    @property
    def last_text(self) -> str:
        return self.texts[-1]

    @property
    def buttons(self) -> list[str]:
        try:
            message = self._keyboard_message()
        except AssertionError:
            return []
        return [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]

    @property
    def notices(self) -> list[str | None]:
        return [c.params.get("text") for c in self.request.of("answerCallbackQuery")]

    @property
    def last_sent_markup(self) -> dict[str, Any] | None:
        for call in reversed(self.request.of("sendMessage")):
            if int(call.params["chat_id"]) == self.user_id:
                markup = call.params.get("reply_markup")
                return markup if isinstance(markup, dict) else None
        return None

    def _keyboard_message(self) -> dict[str, Any]:
        sent = self.sent
        if sent and "reply_markup" in sent[-1]:
            return sent[-1]
        raise AssertionError(f"the last message has no buttons: {self.texts[-1:]}")
