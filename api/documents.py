"""Documents and ingestion jobs: uploads are queued durably and ingested in the background."""

from __future__ import annotations

import mimetypes
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from litestar import Controller, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, Parameter
from litestar.response import File

from api.access import CollectionParam, allowed_collection
from api.auth import Access
from api.job_runner import wait_for
from api.jobs import Job
from api.schemas import DocumentsResponse, JobOut, JobsResponse
from api.services import Services
from api.uploads import upload_path
from rag import DocumentInfo, InvalidRequest


@dataclass
class UploadForm:
    """Multipart form: one or more `data` fields, each a file."""

    data: list[UploadFile]

    def files(self) -> list[UploadFile]:
        return self.data


def job_out(job: Job) -> JobOut:
    return JobOut(
        id=job.id,
        collection=job.collection,
        state=job.state,
        created_at=job.created_at,
        finished_at=job.finished_at,
        progress=job.progress,
        files=job.files,
        status_url=f"/v1/jobs/{job.id}",
    )


class DocumentController(Controller):
    path = "/v1/documents"
    tags = ["documents"]

    @get("/", sync_to_thread=True)
    def list_documents(
        self, services: Services, access: Access, collection: CollectionParam = None
    ) -> DocumentsResponse:
        name = allowed_collection(services.rag, access, collection)
        return DocumentsResponse(documents=services.rag.documents(name))

    @get("/{document_id:str}", sync_to_thread=True)
    def get_document(
        self,
        document_id: str,
        services: Services,
        access: Access,
        collection: CollectionParam = None,
    ) -> DocumentInfo:
        name = allowed_collection(services.rag, access, collection)
        return services.rag.document(document_id, name)

    @get("/{document_id:str}/file", sync_to_thread=True)
    def original_file(
        self,
        document_id: str,
        services: Services,
        access: Access,
        collection: CollectionParam = None,
    ) -> File:
        """The document's original file, shown inline (a PDF link can add `#page=N`)."""
        name = allowed_collection(services.rag, access, collection)
        document = services.rag.document(document_id, name)
        path = Path(document.path)
        if not path.is_file():
            raise NotFoundException(
                f"the original of {document.path!r} is not a file on this server (a record, an "
                "object in an object store, an attachment inside another file, or moved since it "
                "was ingested)"
            )
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return File(
            path, filename=path.name, media_type=media_type, content_disposition_type="inline"
        )

    @post("/", sync_to_thread=True, status_code=202)
    def upload(
        self,
        data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
        services: Services,
        access: Access,
        collection: CollectionParam = None,
        wait: Annotated[
            bool,
            Parameter(
                query="wait",
                description="Answer only when the job is done (200) instead of at once (202).",
            ),
        ] = False,
    ) -> Response[JobOut]:
        """Queue one or more files for ingestion; returns the job at once (poll its status_url).

        Files are stored and the job recorded before the answer, so a server restart does not
        lose them: queued work resumes when the server starts again.
        """
        rag = services.rag
        limit = rag.settings.max_upload_files
        files = data.files()
        if not files:
            raise InvalidRequest("no files in the upload: send them as multipart fields 'data'")
        if len(files) > limit:
            raise InvalidRequest(
                f"{len(files)} files in one upload; the limit is {limit} (RAG_MAX_UPLOAD_FILES): "
                "split the upload"
            )
        name = allowed_collection(rag, access, collection)
        rag.create_collection(name, exist_ok=True)
        saved = []
        for upload in files:
            target = upload_path(rag.settings.home, name, upload.filename)
            staged = target.with_name(f".{target.name}.uploading")
            with open(staged, "wb") as out:
                shutil.copyfileobj(upload.file, out)
            staged.replace(target)
            saved.append((target.name, target))
        job_id = services.jobs.create(name, saved)
        services.runner.notify()
        if wait:
            return Response(job_out(wait_for(services.jobs, job_id, timeout=3600)), status_code=200)
        job = services.jobs.get(job_id)
        assert job is not None
        return Response(job_out(job), status_code=202)

    @delete("/{document_id:str}", sync_to_thread=True)
    def delete_document(
        self,
        document_id: str,
        services: Services,
        access: Access,
        collection: CollectionParam = None,
    ) -> None:
        name = allowed_collection(services.rag, access, collection)
        services.rag.delete_document(document_id, name)


class JobController(Controller):
    path = "/v1/jobs"
    tags = ["documents"]

    @get("/", sync_to_thread=True)
    def list_jobs(
        self, services: Services, access: Access, collection: CollectionParam = None
    ) -> JobsResponse:
        """Recent ingestion jobs, newest first."""
        name = allowed_collection(services.rag, access, collection) if collection else None
        jobs = [j for j in services.jobs.recent(name) if access.allows(j.collection)]
        return JobsResponse(jobs=[job_out(j) for j in jobs])

    @get("/{job_id:str}", sync_to_thread=True)
    def get_job(self, job_id: str, services: Services, access: Access) -> JobOut:
        """One job with each file's state (queued, parsing, embedding, done, failed + reason)."""
        job = services.jobs.get(job_id)
        if job is None:
            raise NotFoundException(f"no ingestion job with id {job_id!r}")
        access.check(job.collection)
        return job_out(job)
