# Runs the quickstart twice on a fresh database: the first run mails user 1, the second only
# user 2 (the consumer resumed after its cursor).
file(REMOVE ${DB} ${DB}-wal ${DB}-shm)
foreach(run 1 2)
  execute_process(COMMAND ${EXE} ${DB} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  TIMEOUT 30)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "welcome_mailer run ${run} failed (${rc}):\n${out}\n${err}")
  endif()
  string(REGEX MATCHALL "welcome mail to user [0-9]+" mails "${out}")
  if(NOT mails STREQUAL "welcome mail to user ${run}" OR NOT out MATCHES "cursor of welcome-mailer: ${run}\n")
    message(FATAL_ERROR "welcome_mailer run ${run} printed:\n${out}\nexpected one mail, to user ${run}")
  endif()
endforeach()
file(REMOVE ${DB} ${DB}-wal ${DB}-shm)
