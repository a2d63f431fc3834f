"""`HalionApp`: the Jupyter server extension holding one workspace and the threads its calls run on."""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from traitlets import Int, List, Unicode

from ..core.approval import ApprovalRequest, Decision
from ..workspace import Workspace
from .handlers import default_handlers


class HalionApp(ExtensionApp):
    """Serves `/halion/api/` over the workspace of `$HALION_HOME`, else the server's root directory."""

    name = "halion"
    load_other_extensions = True

    home = Unicode(
        "", config=True,
        help="The workspace folder; default $HALION_HOME, else the server's root_dir.",
    )
    allow_approval = List(
        Unicode(), config=True,
        help="Tools that need approval which REST callers may still run: listing a tool here is the "
             "server owner's approval of every REST call to it. Others are refused with 403.",
    )
    max_body_size = Int(
        1024 * 1024, config=True,
        help="Largest request body, in bytes, the API accepts; a larger one is refused with 413.",
    )
    workers = Int(
        8, config=True,
        help="Threads running tool calls and chain runs, so that none of them blocks the server's event loop.",
    )

    def initialize_settings(self) -> None:
        root = self.home or os.environ.get("HALION_HOME") or self.serverapp.root_dir
        self.workspace = Workspace(Path(root).expanduser())
        self.workspace.approver = self.approver  # in the server process only REST calls run tools
        self.executor = ThreadPoolExecutor(max_workers=max(1, self.workers), thread_name_prefix="halion-rest")
        self._stamps = self._file_stamps()
        self._reload_lock = threading.Lock()
        self.log.info("halion: REST API at %shalion/api/ over the workspace %s",
                      self.serverapp.base_url, self.workspace.path)

    def initialize_handlers(self) -> None:
        self.handlers.extend(default_handlers)

    def current_workspace(self) -> Workspace:
        """The workspace, with tool and chain files saved since the last request read again."""
        stamps = self._file_stamps()
        if stamps != self._stamps:
            with self._reload_lock:
                if stamps != self._stamps:
                    tools, chains = stamps
                    if tools != self._stamps[0]:
                        self.workspace.tools.load()
                    if chains != self._stamps[1]:
                        self.workspace.chains.load()
                    self._stamps = stamps
        return self.workspace

    def approver(self, request: ApprovalRequest) -> Decision:
        """REST callers cannot answer an approval prompt: only tools in `allow_approval` run."""
        if request.tool in self.allow_approval:
            return Decision(True, "allowed for REST callers by HalionApp.allow_approval", by="server config")
        return Decision(False, f"'{request.tool}' needs approval, which a REST call cannot give; the server's "
                               f"owner may allow it with c.HalionApp.allow_approval = ['{request.tool}']",
                        by="server config")

    def _file_stamps(self) -> tuple[frozenset[tuple[str, int, int]], frozenset[tuple[str, int, int]]]:
        def stamp(folder: Path, pattern: str) -> frozenset[tuple[str, int, int]]:
            out = set()
            for path in folder.glob(pattern) if folder.is_dir() else []:
                try:
                    st = path.stat()
                except OSError:
                    continue
                out.add((path.name, st.st_mtime_ns, st.st_size))
            return frozenset(out)

        ws = self.workspace
        return stamp(ws.tools.dir, "*.py"), stamp(ws.path / "chains", "*.json")

    async def stop_extension(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.workspace.log.close()
