# Compiler warnings for Mayfly's own targets (never for third-party code).
function(mayfly_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wno-unused-parameter -Wvla
    -D_FORTIFY_SOURCE=2 -fstack-protector-strong)
  if(ENABLE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(ENABLE_SANITIZERS)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined
                           -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
  if(ENABLE_TSAN)
    target_compile_options(${target} PRIVATE -fsanitize=thread -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=thread)
  endif()
endfunction()
