# Run at every build (cmake -P): writes version_git.h with `git describe` of the source tree, so
# `headroom --version` names the commit it was built from. Rewrites the header only when the text
# changes (configure_file), so an unchanged tree does not relink. Outside a git checkout (a
# release tarball, the .deb build from one) the description is "unknown".
#   -DSRC=<source dir> -DOUT=<header path>
set(desc "unknown")
find_program(GIT git)
if(GIT AND EXISTS "${SRC}/.git")
  execute_process(COMMAND "${GIT}" -C "${SRC}" describe --always --dirty --tags
                  OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  # the description ends up in a C string: keep only characters git itself puts there
  if(rc EQUAL 0 AND out MATCHES "^[A-Za-z0-9._+-]+$")
    set(desc "${out}")
  endif()
endif()
file(WRITE "${OUT}.tmp" "#define HEADROOM_GIT_DESCRIBE \"${desc}\"\n")
configure_file("${OUT}.tmp" "${OUT}" COPYONLY)
file(REMOVE "${OUT}.tmp")
