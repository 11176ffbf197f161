# The zkserver image, built FROM scratch: no registry is needed. `scripts/docker-image.sh`
# stages the release binary and the few shared libraries it links into docker/rootfs first.
FROM scratch
COPY docker/rootfs/ /
ENV ZKSERVER_LOG=info
EXPOSE 2181 2888 3888
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/zkserver"]
CMD ["/etc/zookeeper/zoo.cfg"]
