"""Provider protocols without I/O: request builders, answer parsers, error classification.

Every uploader variant drives these same functions, so the variants cannot drift apart in
what they send (h11's split of protocol logic from I/O).
"""

from uploader.protocol.errors import (
    ErrorInfo,
    classify_response,
    one_line,
    parse_retry_after,
    safe_error,
    scrub,
)
from uploader.protocol.requests import (
    HttpRequest,
    content_type_for,
    list_files,
    metadata_insert,
    metadata_row,
    metadata_url,
    openai_upload,
    supabase_multipart_upload,
    supabase_object_upload,
    supabase_object_url,
    supabase_project_url,
    tus_create,
    tus_endpoint,
    tus_head,
    tus_patch,
    upload_url,
)
from uploader.protocol.responses import (
    ProtocolError,
    StoredFile,
    header,
    parse_file_list,
    parse_openai_file,
    parse_supabase_object,
    parse_tus_location,
    parse_upload_offset,
)
from uploader.protocol.verdict import UploadVerdict, judge_upload

__all__ = [
    "ErrorInfo",
    "HttpRequest",
    "ProtocolError",
    "StoredFile",
    "UploadVerdict",
    "classify_response",
    "content_type_for",
    "header",
    "judge_upload",
    "list_files",
    "metadata_insert",
    "metadata_row",
    "metadata_url",
    "one_line",
    "openai_upload",
    "parse_file_list",
    "parse_openai_file",
    "parse_retry_after",
    "parse_supabase_object",
    "parse_tus_location",
    "parse_upload_offset",
    "safe_error",
    "scrub",
    "supabase_multipart_upload",
    "supabase_object_upload",
    "supabase_object_url",
    "supabase_project_url",
    "tus_create",
    "tus_endpoint",
    "tus_head",
    "tus_patch",
    "upload_url",
]
